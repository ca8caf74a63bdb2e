import { basename, resolve } from 'node:path';
import { FerryError } from '../errors/index.js';
import { localTopOf } from '../transfer/index.js';
import { remoteName } from './remote-name.js';
import type { ServerAddress } from './server-address.js';

/**
 * Refuses, before connecting, two local sources of `sendPaths` that would land under one name in the
 * destination directory (`send d1/x d2/x HOST/dir/`, `send -r d1 d1/ HOST/`), naming both as given. Each is
 * named as the send names it (`localTopOf`): `link/..` after the link target's parent, which the kernel
 * walks, not after the directory its text folds to.
 */
export function refuseSameNameSends(paths: readonly string[]): void {
  refuseSameNames(paths.map((path) => ({ shown: path, name: localSourceName(path) })));
}

/** The name `path` is sent under; a source that cannot be resolved is named by its text (its send fails). */
function localSourceName(path: string): string {
  try {
    return localTopOf(path).name;
  } catch {
    return basename(resolve(path));
  }
}

/**
 * Refuses, before connecting, two remote sources of `getPaths` that would land under one name in the local
 * directory (`get HOST/a/x HOST/b/x .`), naming both as `HOST:PORT/PATH`. The root ('') has no name of its
 * own and is not compared.
 */
export function refuseSameNameGets(server: ServerAddress, remotePaths: readonly string[]): void {
  refuseSameNames(
    remotePaths.map((path) => ({ shown: remoteName(server, path), name: path.split('/').at(-1)! })),
  );
}

/**
 * Once the first of two sources of one name is placed, the second is refused as an existing file, which
 * names a destination the user never had, and with `overwrite` it silently replaces the first, as scp does.
 * The library refuses it (sendPaths, getPaths), and the CLI calls the same check before it even loads its
 * identity.
 */
function refuseSameNames(sources: ReadonlyArray<{ shown: string; name: string }>): void {
  const seen = new Map<string, string>();
  for (const { shown, name } of sources) {
    if (name === '') continue;
    const first = seen.get(name);
    if (first !== undefined)
      throw new FerryError(
        'USAGE_INVALID',
        `${first} and ${shown} would both be stored as ${name} in the destination: transfer them in separate runs or to separate directories`,
      );
    seen.set(name, shown);
  }
}
