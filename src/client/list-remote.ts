import { FerryError } from '../errors/index.js';
import type { ListEntry } from '../protocol/index.js';
import type { ClientSession } from './client-session.js';

/**
 * Lists `path` on the server (PROTOCOL.md §5.12); `isFile` tells a file from a directory, and `mode` and
 * `mtimeMs` describe the listed path itself. The entries come
 * from the other side: callers must validate every path before using it (`parseRemotePath`).
 */
export async function listRemote(
  session: ClientSession,
  path: string,
  options: { recursive: boolean },
): Promise<{ entries: ListEntry[]; isFile: boolean; mode: number; mtimeMs: number }> {
  const ref = session.openRef();
  try {
    await session.send({ type: 'LIST_REQUEST', ref, recursive: options.recursive, path });
    const entries: ListEntry[] = [];
    for (;;) {
      const message = await session.take(ref);
      if (message.type === 'LIST_ENTRIES') entries.push(...message.entries);
      else if (message.type === 'LIST_END') {
        return { entries, isFile: message.isFile, mode: message.mode, mtimeMs: message.mtimeMs };
      } else throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} during a listing`);
    }
  } finally {
    session.closeRef(ref);
  }
}
