import { FerryError, isFerryError } from '../errors/index.js';
import { MAX_LIST_BYTES, MAX_LIST_ENTRIES, listEntryBytes, type ListEntry } from '../protocol/index.js';
import type { ClientSession } from './client-session.js';
import type { PathKind } from './destination.js';

/** A listing of a remote path (PROTOCOL.md §5.12). */
export interface RemoteListing {
  /** The entries, as the server sent them: validate each path before using it (`parseRemotePath`). */
  entries: ListEntry[];
  /** The listed path is a file (its one entry is the file itself). */
  isFile: boolean;
  /** Permission bits and mtime of the listed path itself (for `''`, the client's root). */
  mode: number;
  mtimeMs: number;
}

/**
 * Lists `path` on the server (PROTOCOL.md §5.12); `isFile` tells a file from a directory, and `mode` and
 * `mtimeMs` describe the listed path itself. The entries come from the other side: callers must validate
 * every path before using it (`parseRemotePath`). A listing is held whole, so its limits (MAX_LIST_ENTRIES,
 * MAX_LIST_BYTES) are enforced as it streams in: a server that sends more fails the session as
 * MESSAGE_MALFORMED before the excess is kept.
 */
export async function listRemote(
  session: ClientSession,
  path: string,
  options: { recursive: boolean; selfOnly?: boolean },
): Promise<RemoteListing> {
  const ref = session.openRef();
  try {
    await session.send({
      type: 'LIST_REQUEST',
      ref,
      recursive: options.recursive,
      selfOnly: options.selfOnly ?? false,
      path,
    });
    const entries: ListEntry[] = [];
    let listedBytes = 0;
    for (;;) {
      const message = await session.take(ref);
      if (message.type === 'LIST_ENTRIES') {
        for (const entry of message.entries) {
          if (entries.length === MAX_LIST_ENTRIES)
            throw brokenListing(session, `listing exceeds ${MAX_LIST_ENTRIES} entries`);
          listedBytes += listEntryBytes(entry);
          if (listedBytes > MAX_LIST_BYTES)
            throw brokenListing(session, `listing exceeds ${MAX_LIST_BYTES} bytes of entries`);
          entries.push(entry);
        }
      } else if (message.type === 'LIST_END') {
        if (message.totalEntries !== entries.length)
          throw brokenListing(
            session,
            `list_end counts ${message.totalEntries} entries, ${entries.length} were sent`,
          );
        return { entries, isFile: message.isFile, mode: message.mode, mtimeMs: message.mtimeMs };
      } else throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} during a listing`);
    }
  } finally {
    session.closeRef(ref);
  }
}

/** PROTOCOL.md §5: a receiver rejects a message that breaks the rules and closes the session. */
function brokenListing(session: ClientSession, detail: string): FerryError {
  const error = new FerryError('MESSAGE_MALFORMED', detail);
  session.close(error);
  return error;
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
