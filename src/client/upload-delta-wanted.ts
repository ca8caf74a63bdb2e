import { MIN_DELTA_BLOCK_BYTES } from '../protocol/index.js';
import type { UploadOptions } from './upload-options.js';

/**
 * Whether an offer asks for DELTA (PROTOCOL.md §5.15.1): asked for, with OVERWRITE, not a joined stream, and
 * a file of at least the smallest block (1 KiB: below it the whole file costs less than the round trip).
 * Such an offer is not pipelined, even for one chunk: the signature decides what travels.
 */
export function deltaWanted(size: number, options: UploadOptions, join: Buffer | undefined): boolean {
  return (
    options.delta === true &&
    options.overwrite === true &&
    options.replaceDir !== true &&
    join === undefined &&
    size >= MIN_DELTA_BLOCK_BYTES
  );
}
