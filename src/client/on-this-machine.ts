import { dirname, join } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';

/** Where a received entry lands: the local directory of the operation and the components under it. */
export interface LocalPlace {
  /** The directory the user named (its real path), everything lands under it. */
  readonly root: string;
  /** Validated components under `root`; the entry the user asked for is `join(root, ...local)`. */
  readonly local: readonly string[];
}

/**
 * Names a local file system failure of a download the way scp or rsync would: by the path the user asked
 * for (or the directory of it that is at fault) and the system's reason, never by ferry's temporaries beside
 * it (`.NAME.ferry-state.tmp`, `.NAME.ferry-part`, a batch's temporary) and never by a component number.
 * Errors the server sent, and errors of the session, are left as they are: the server names nothing of ours.
 *
 * - A failure on a path beside the destination that is not the destination (ferry's own temporaries) is
 *   about the destination; a refusal to write there says which directory refused it.
 * - `resolveUnderRoot`'s refusals number the component (the only name it may put on the wire when a
 *   server meets them); here the component is ours and is named, with the system's words for what it is.
 */
export function onThisMachine(err: unknown, place: LocalPlace): FerryError {
  const error = toFerryError(err);
  if (error.remote || !ABOUT_AN_ENTRY.has(error.category)) return error;
  const path = join(place.root, ...place.local);
  const refusal = rootPathRefusal(error, place);
  if (refusal) return refusal;
  if (error.subject === undefined) return error.about(path);
  if (error.code === 'FILE_EXISTS' && error.subject !== path && dirname(error.subject) === dirname(path)) {
    // ChunkLog met a file of someone else's where the download keeps its state: only its removal helps.
    return new FerryError('STATE_FILE_IN_THE_WAY', undefined, {
      cause: error,
      subject: path,
      hint: `remove ${error.subject} (ferry never removes a file it did not make), then run the command again`,
    });
  }
  if ((error.cause as { syscall?: unknown } | undefined)?.syscall === 'mkdir') {
    // A directory of the tree (or the destination) this get makes: the user asked for it; its parent refused.
    const detail = withDirectoryAtFault(error, dirname(error.subject));
    return new FerryError(error.code, detail, { cause: error, subject: error.subject });
  }
  if (error.subject === path || dirname(error.subject) !== dirname(path)) return error;
  // A temporary of ours beside the destination: the user asked for `path`, and the directory is at fault.
  return new FerryError(error.code, withDirectoryAtFault(error, dirname(path)), {
    cause: error,
    subject: path,
  });
}

/** Local errors that concern one entry: its path, its content, its disk. */
const ABOUT_AN_ENTRY: ReadonlySet<string> = new Set(['path', 'transfer', 'storage']);

/**
 * The system's reason, and for a refusal to create something in a directory (ferry's temporary, a missing
 * directory of the tree), which directory refused: the destination itself may not exist yet.
 */
function withDirectoryAtFault(error: FerryError, dir: string): string | undefined {
  const cause = error.cause as { code?: unknown; syscall?: unknown } | undefined;
  const denied = cause?.code === 'EACCES' || cause?.code === 'EPERM' || cause?.code === 'EROFS';
  return denied ? `${error.detail}: cannot create files in ${dir}` : error.detail;
}

/**
 * `resolveUnderRoot`'s and `makeReceivedDirectory`'s refusals (src/transfer/root-path.ts), which carry no
 * path, named here: `component N ...` is the N-th component under the root; the rest is about the entry.
 */
function rootPathRefusal(error: FerryError, place: LocalPlace): FerryError | undefined {
  if (error.subject !== undefined || error.detail === undefined) return undefined;
  const component = /^component (\d+) (.+)$/.exec(error.detail);
  const subject = component
    ? join(place.root, ...place.local.slice(0, Number(component[1])))
    : join(place.root, ...place.local);
  const what = component ? component[2]! : error.detail;
  const options = { cause: error, subject };
  switch (what) {
    case 'is not a directory':
    case 'a file is in the way of the directory':
      return new FerryError('IO_ERROR', 'not a directory (enotdir)', options);
    case 'destination is a directory':
      return new FerryError('IO_ERROR', 'is a directory (eisdir)', options);
    case 'destination is not a regular file':
      return new FerryError('IO_ERROR', 'not a regular file', options);
    case 'does not exist':
      return new FerryError('PATH_NOT_FOUND', undefined, options);
    case 'is a symbolic link':
    case 'destination is a symbolic link':
      return new FerryError(error.code, 'is a symbolic link, which ferry never writes through', options);
    default:
      return undefined;
  }
}
