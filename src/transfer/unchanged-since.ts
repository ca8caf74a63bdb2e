import type { FileHandle } from 'node:fs/promises';
import { closedAs, type DecodedChunkLog } from './chunk-log.js';
import { identityOf } from './source-file.js';

/**
 * Whether `log` ends with a closing record for the open data file's identity as it is now (PROTOCOL.md
 * §9.2): the file is then the one whose chunks the log lists, unchanged (any write moves its ctime, which
 * no process can set). Read through the open handle, so it is the file that will be read and resumed.
 */
export async function unchangedSince(log: DecodedChunkLog, data: FileHandle): Promise<boolean> {
  if (log.closing === undefined) return false;
  return closedAs(log, identityOf(await data.stat({ bigint: true })));
}
