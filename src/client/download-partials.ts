import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  FilePartialStore,
  type PartialPaths,
  type PartialStore,
  type RootPath,
  siblingTempName,
} from '../transfer/index.js';

/** Where a download's partial lives: hidden beside its destination, so the final rename stays on one disk. */
export function downloadPartialPaths(target: RootPath): PartialPaths {
  return {
    dataPath: join(target.dir, siblingTempName(target.name, 'ferry-part')),
    logPath: join(target.dir, siblingTempName(target.name, 'ferry-state')),
  };
}

/** A download's partial, keyed by its destination, marked as ferry's even for one chunk (`partialOwner`). */
const downloadPartials = new FilePartialStore<RootPath>(
  { pathsOf: downloadPartialPaths },
  { markWithState: true },
);

/**
 * The download partials of the server whose static key is `serverKey`. A resumed download names the chunks
 * its partial holds (GET_REQUEST heldSize, ranges and a digest over their hashes, PROTOCOL.md §5.11.2), and
 * the partial beside a destination may have come from another server (the same local name fetched from two):
 * told to this one, they would give it the other's file size and a digest that confirms a guess of its
 * content (docs/SECURITY.md, "A partial resumed only with its own server"). So each partial carries a tag of
 * the server that sent it, in the header field a download has no other use for (`mtimeMs`: the file's mtime
 * comes with its offer): a partial of another server, or of a version before the tag, is not seen by
 * `inspect` and is started afresh by `open`.
 */
export function downloadPartialsFrom(serverKey: Buffer): PartialStore<RootPath, RootPath> {
  const tag = serverTag(serverKey);
  return {
    open: (key, header, options) => downloadPartials.open(key, { ...header, mtimeMs: tag }, options),
    inspect: async (key) => {
      const found = await downloadPartials.inspect(key);
      if (found === undefined || found.header.mtimeMs === tag) return found;
      await found.reader.close();
      return undefined;
    },
  };
}

/** 48 bits of a hash of the server's key, never 0 (what an untagged partial holds): a safe integer. */
function serverTag(serverKey: Buffer): number {
  const digest = createHash('sha256').update('ferry download partial source\0').update(serverKey).digest();
  return digest.readUIntBE(0, 6) || 1;
}
