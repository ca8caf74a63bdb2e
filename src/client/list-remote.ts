import { isFerryError, toFerryError } from '../errors/index.js';
import { ListingReceiver, type RemoteListing } from '../machines/index.js';
import type { ClientSession } from './client-session.js';
import type { PathKind } from './destination.js';

export type { RemoteListing };

/**
 * Lists `path` on the server (PROTOCOL.md §5.12); `isFile` tells a file from a directory, and `mode` and
 * `mtimeMs` describe the listed path itself. The entries come from the other side: callers must validate
 * every path before using it (`parseRemotePath`). A listing is held whole, so its limits (MAX_LIST_ENTRIES,
 * MAX_LIST_BYTES) are enforced as it streams in: a server that sends more fails the session as
 * MESSAGE_MALFORMED before the excess is kept. The rules are `ListingReceiver`'s (machines/, PROTOCOL.md §6.5).
 * `namesOnly` asks for kinds, paths, sizes and link targets alone (§5.12 NAMES_ONLY): files' `mode` and
 * `mtimeMs` may then be 0, and a server on an object store skips a HEAD request per file.
 */
export async function listRemote(
  session: ClientSession,
  path: string,
  options: { recursive: boolean; selfOnly?: boolean; namesOnly?: boolean },
): Promise<RemoteListing> {
  const listing = new ListingReceiver();
  const ref = session.openRef();
  try {
    await session.send(listing.request(ref, path, options));
    for (;;) {
      // An ERROR for the ref rejects here with the server's code: the listing is refused, the session goes on.
      const message = await session.take(ref);
      let done: RemoteListing | undefined;
      try {
        done = listing.receive(message);
      } catch (err) {
        // PROTOCOL.md §5: a receiver rejects a message that breaks the rules and closes the session.
        session.close(toFerryError(err));
        throw err;
      }
      if (done) return done;
    }
  } finally {
    session.closeRef(ref);
  }
}

/**
 * Whether `path` on the server is missing, a file or a directory (LIST_REQUEST with SELF_ONLY, PROTOCOL.md
 * §5.12: no entries travel). `''`, the client's root, is always a directory: the server makes it on demand.
 */
export async function remotePathKind(session: ClientSession, path: string): Promise<PathKind> {
  if (path === '') return 'dir';
  try {
    const { isFile } = await listRemote(session, path, { recursive: false, selfOnly: true });
    return isFile ? 'file' : 'dir';
  } catch (err) {
    if (isFerryError(err, 'PATH_NOT_FOUND')) return 'missing';
    throw err;
  }
}
