import { parseRemotePath } from '../protocol/index.js';
import { listRemote, type RemoteListing } from './list-remote.js';
import { aboutRemotePath } from './remote-name.js';
import { withRetries, type ConnectOptions } from './send-files.js';
import type { SessionEvent } from './transfer-events.js';

export interface ListFilesOptions extends ConnectOptions {
  /** The remote path to list ('/'-separated, relative to the client's root on the server); '' for the root. */
  remotePath: string;
  /** The whole tree under it, not just its entries. */
  recursive?: boolean;
  /**
   * Kinds, paths, sizes and link targets only (LIST_REQUEST NAMES_ONLY, PROTOCOL.md §5.12): files' `mode`
   * and `mtimeMs` may be 0, and a server on an object store answers without a request per file.
   */
  namesOnly?: boolean;
  /** Told about each session opened and each retry (`retrying` says after which error and how long). */
  onEvent?: (event: SessionEvent) => void;
}

/**
 * Lists a remote path (PROTOCOL.md §5.12), as `ferry ls` does: the path is checked here before a connection
 * is made (§7.1), a retryable failure (network, stall) lists again on a new session after a backoff as
 * uploads and downloads do, and an error about the path names it (the server never sends paths, §5.1).
 * The entries come from the server: validate each path before using it (`parseRemotePath`).
 */
export async function listFiles(options: ListFilesOptions): Promise<RemoteListing> {
  const { remotePath } = options;
  if (remotePath !== '') parseRemotePath(remotePath);
  const [listing] = await withRetries<RemoteListing>(
    options,
    options.onEvent ?? (() => undefined),
    async (session, results) => {
      results[0] = await listRemote(session, remotePath, {
        recursive: options.recursive ?? false,
        namesOnly: options.namesOnly ?? false,
      }).catch((err: unknown) => {
        throw aboutRemotePath(err, options.server, remotePath);
      });
    },
  );
  return listing!;
}
