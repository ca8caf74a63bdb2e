import { join } from 'node:path';
import { FilePartialStore, type PartialPaths } from '../transfer/index.js';

/** A transfer id's files in the partial directory: the data, the state (its log), the state's temporary. */
const PARTIAL_NAME = /^([0-9a-f]{32})\.(?:part|state|state\.tmp)$/;

/** Where the server keeps the partial of `transferId`: `<partialDir>/<id>.part` and `<id>.state`. */
export function serverPartialPaths(partialDir: string, transferId: string): PartialPaths {
  return {
    dataPath: join(partialDir, `${transferId}.part`),
    logPath: join(partialDir, `${transferId}.state`),
  };
}

/**
 * The server's partial transfers (`serverPartialPaths`), keyed by transfer id (PROTOCOL.md §9.2). The
 * directory is the server's own, so the store can list it, for the sweeper and the storage limits. Each
 * partial's writes through libuv's pool go one at a time (a delta upload's placing writes spun on the
 * file's inode lock, issue 16; an upload's received data is written by the receive pool, never queued).
 */
export function serverPartialStore(partialDir: string): FilePartialStore<string> {
  return new FilePartialStore<string>(
    {
      pathsOf: (transferId) => serverPartialPaths(partialDir, transferId),
      listing: {
        dir: partialDir,
        keyOf: (name) => PARTIAL_NAME.exec(name)?.[1],
      },
    },
    { oneWriteAtATime: true },
  );
}
