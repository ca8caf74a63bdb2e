import { lstat, stat } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import { DEFAULT_PORT } from '../protocol/index.js';
import { isLocalPathForm } from './parse-target.js';

/**
 * Which side of `ferry sync SRC DST` is this machine's: the one that exists here. `upload` when SRC names
 * an entry here (DST is then the server's), else SRC is the server's and DST the local directory. Refuses,
 * before any connection, the spellings that would otherwise dial a local name as a host or make a local
 * directory named after a server: a sync runs between this machine and one server, one side each.
 */
export async function syncSides(src: string, dst: string): Promise<{ upload: boolean }> {
  const upload = await existsHere(src);
  // A missing SRC spelt as a path here (`/x`, `./x`) is not a server's: said as `send` says it.
  if (!upload && isLocalPathForm(src))
    throw new FerryError('PATH_NOT_FOUND', 'nothing to sync from there on this machine', { subject: src });
  // Neither side here: a mistyped local SRC would otherwise be dialled as a host.
  if (!upload && !src.includes('/'))
    throw new FerryError(
      'USAGE_INVALID',
      'no such directory on this machine; a remote SRC is HOST[:PORT]/DIR',
      {
        subject: src,
      },
    );
  // As a sync down says of a remote file: not the table's "not a valid relative path" of the walk below.
  if (upload && (await isNoDirectoryHere(src)))
    throw new FerryError('USAGE_INVALID', 'the source is a file: sync mirrors directories', {
      subject: src,
    });
  // `ferry sync tree backup` as rsync takes two local directories: `backup` was dialled as a host
  // ("could not connect: backup:7443: unknown host").
  if (upload && (await existsHere(dst)))
    throw new FerryError(
      'USAGE_INVALID',
      `is on this machine too: ${BOTH_SIDES}; a server of that name is written with its port, ${dst.replace(/\/.*/, '')}:${DEFAULT_PORT}`,
      { subject: dst },
    );
  // `ferry sync HOST/SRC HOST/DST` made the directories `HOST:PORT/DST` here and filled them.
  if (!upload && (await namesServer(dst, src)))
    throw new FerryError(
      'USAGE_INVALID',
      `names a server too: ${BOTH_SIDES}; a new local directory of that name is written ./${dst}`,
      { subject: dst },
    );
  return { upload };
}

const BOTH_SIDES =
  'sync copies between this machine and one server, SRC on one and DST on the other (a local mirror is rsync -a or cp -a)';

/**
 * Whether the missing local DST of a sync down is spelt as a server: its first component is `HOST:PORT`
 * (`[v6]:PORT`) or SRC's host, and no such entry is here (a directory really named so stays usable).
 */
async function namesServer(dst: string, src: string): Promise<boolean> {
  if (isLocalPathForm(dst) || (await existsHere(dst))) return false;
  const head = firstComponent(dst);
  const withPort = /^(\[[^\]]*\]|[^:[\]]+):\d{1,5}$/.exec(head);
  const host = (text: string): string =>
    (/^(\[[^\]]*\]|[^:[\]]+)(:\d{1,5})?$/.exec(text)?.[1] ?? text).toLowerCase();
  if (!withPort && host(head) !== host(firstComponent(src))) return false;
  return !(await existsHere(head));
}

/** `text` up to its first `/` outside an IPv6 address's brackets. */
function firstComponent(text: string): string {
  const close = text.startsWith('[') ? text.indexOf(']') : -1;
  const slash = text.indexOf('/', Math.max(0, close));
  return slash < 0 ? text : text.slice(0, slash);
}

/**
 * The local SRC is there and is not a directory, nor a link to one (the directory the user names is theirs,
 * as with `send -r`). A link that leads nowhere is left to the walk, which names why.
 */
async function isNoDirectoryHere(path: string): Promise<boolean> {
  return stat(path).then(
    (stats) => !stats.isDirectory(),
    () => false,
  );
}

/** Whether `path` names an entry on this machine (a link included). */
async function existsHere(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
