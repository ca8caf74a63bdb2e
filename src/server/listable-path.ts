import { Buffer } from 'node:buffer';
import {
  MAX_COMPONENT_BYTES,
  MAX_PATH_BYTES,
  RESERVED_ROOT_COMPONENT,
  forbiddenCharacterAt,
} from '../protocol/index.js';

/**
 * Whether a listing may name `path` (relative to the listed directory, '/'-separated): every component one a
 * remote path can hold (PROTOCOL.md §7.1: not empty, `.` or `..`, no control character, DEL or `\`, at most
 * 255 bytes) and the whole within 4096 bytes. A client refuses a listing holding any other name (it could
 * never ask for it), so one such entry failed every `get -r`, `sync` and `ls -r` above it: a listing leaves it
 * out instead, with all below it. One rule for a root on disk (names another program made) and on an object
 * store (keys another tool wrote into the bucket). `atClientRoot`: the listing is of the client's own root,
 * where `.ferry` first, in any mix of case, is reserved (§7.1): there it is the server's own state, or, for a
 * client confined to a directory, a name no remote path could reach; deeper it is an ordinary name.
 */
export function listablePath(path: string, atClientRoot: boolean): boolean {
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return false;
  const slash = path.indexOf('/');
  const first = slash < 0 ? path : path.slice(0, slash);
  if (atClientRoot && first.toLowerCase() === RESERVED_ROOT_COMPONENT) return false;
  for (const name of path.split('/'))
    if (
      name === '' ||
      name === '.' ||
      name === '..' ||
      forbiddenCharacterAt(name) >= 0 ||
      Buffer.byteLength(name) > MAX_COMPONENT_BYTES
    )
      return false;
  return true;
}
