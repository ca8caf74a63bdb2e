import type { Command } from 'commander';
import { DEFAULT_CHUNK_BYTES, DEFAULT_STREAMS } from '../client-api.js';
import { CHUNK_SIZE_HELP, formatByteSize } from './parse-option.js';

/** The flags `send` and `get` share, parsed by `parseChunkSize` and `parseStreams`. */
export interface TransferFlags {
  mkdir?: boolean;
  overwrite?: boolean;
  /** False with `--no-delta`: a replaced file travels whole (PROTOCOL.md §5.15, §5.17 not asked for). */
  delta: boolean;
  chunkSize: string;
  streams: string;
}

/** The help of `--no-delta`, one text for `send`, `get` and `sync`. */
export const DELTA_FLAG_HELP =
  'replace a changed file by sending it whole instead of only what changed (for a fast link, or to compare)';

/**
 * Adds the flags `send` and `get` share, worded for the side that receives (`remote` for send, `local` for
 * get), so both commands offer one set with one set of defaults.
 */
export function addTransferFlags(command: Command, receiver: 'remote' | 'local'): Command {
  return (
    command
      // No -p: scp's and rsync's -p keeps modes and times, which ferry does anyway; taken as mkdir's -p it
      // quietly made the directories of a mistyped path for the scp user who only meant "preserve".
      .option('--mkdir', `create missing ${receiver} directories (without it a missing one is an error)`)
      .option(
        '--overwrite',
        receiver === 'remote'
          ? 'replace existing remote files atomically, sending only what changed when you may also read them (default: identical files are skipped, others refused)'
          : `replace existing ${receiver} files atomically, receiving only what changed (default: identical files are skipped, others refused)`,
      )
      .option('--no-delta', DELTA_FLAG_HELP)
      .option('--chunk-size <bytes>', CHUNK_SIZE_HELP, formatByteSize(DEFAULT_CHUNK_BYTES))
      .option(
        '--streams <n>',
        'TCP connections carrying a large file in parallel (helps on long links)',
        String(DEFAULT_STREAMS),
      )
  );
}
