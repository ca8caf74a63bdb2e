import { join } from 'node:path';
import { FilePartialStore, type PartialPaths, type RootPath, siblingTempName } from '../transfer/index.js';

/** Where a download's partial lives: hidden beside its destination, so the final rename stays on one disk. */
export function downloadPartialPaths(target: RootPath): PartialPaths {
  return {
    dataPath: join(target.dir, siblingTempName(target.name, 'ferry-part')),
    logPath: join(target.dir, siblingTempName(target.name, 'ferry-state')),
  };
}

/** A download's partial, keyed by its destination, marked as ferry's even for one chunk (`partialOwner`). */
export const downloadPartials = new FilePartialStore<RootPath>(
  { pathsOf: downloadPartialPaths },
  { markWithState: true },
);
