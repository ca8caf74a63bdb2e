import { lstat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { siblingTempName } from '../transfer/index.js';
import { formatBytes } from './progress-format.js';

/**
 * `err`, with the next step when a download ran out of space on this machine: "no space left on the device:
 * DIR/a.iso" said nothing of the partial `DIR/.a.iso.ferry-part` left beside it, which still takes the space,
 * nor that rerunning resumes from it (README "Exit codes"). Named only when it is there, with the space it
 * takes. A server's DISK_FULL (`remote`) says its own next step. The error of a run names its first failed
 * file in its detail; the file's own error, its cause, has the path.
 */
export async function withDiskFullHint(err: unknown): Promise<unknown> {
  if (!(err instanceof FerryError) || err.code !== 'DISK_FULL' || err.remote) return err;
  const file = err.subject ?? (err.cause instanceof FerryError ? err.cause.subject : undefined);
  if (file === undefined) return err;
  const name = basename(file);
  const part = siblingTempName(name, 'ferry-part');
  const held = await lstat(join(dirname(file), part)).catch(() => undefined);
  if (!held?.isFile()) return err;
  return err.withHint(
    `${part} beside it keeps what was verified (${formatBytes(held.blocks * 512)} of the disk): rerun the same command once there is room, to resume, or delete it and ${siblingTempName(name, 'ferry-state')} to free the space`,
  );
}
