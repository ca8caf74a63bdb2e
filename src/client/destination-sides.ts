import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ClientSession } from './client-session.js';
import type { DestinationSide, PathKind } from './destination.js';
import { remotePathKind } from './list-remote.js';
import { aboutRemotePath, remoteName } from './remote-name.js';

/** This machine as a destination (`get`): absolute paths, links to directories followed as scp does. */
export const LOCAL_DESTINATION: DestinationSide = {
  kindOf: async (path: string): Promise<PathKind> => {
    try {
      return (await stat(path)).isDirectory() ? 'dir' : 'file';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw err;
    }
  },
  parentOf: (path: string) => (dirname(path) === path ? undefined : dirname(path)),
  show: (path: string) => path,
  where: 'on this machine',
};

/** The server as a destination (`send`): remote paths asked about with LIST SELF_ONLY (PROTOCOL.md §5.12). */
export function remoteDestination(session: ClientSession): DestinationSide {
  return {
    kindOf: (path) =>
      remotePathKind(session, path).catch((err: unknown) => {
        throw aboutRemotePath(err, session.address, path);
      }),
    parentOf: (path) => (path === '' ? undefined : path.slice(0, Math.max(0, path.lastIndexOf('/')))),
    show: (path) => remoteName(session.address, path),
    where: 'on the server',
  };
}
