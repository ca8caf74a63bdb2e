import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** Options for {@link resolveHomeDir}. */
export interface ResolveHomeDirOptions {
  /** The `--home` flag, which wins over everything else. */
  home?: string | undefined;
  /** The environment to read; injected by tests, `process.env` otherwise. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Where ferry keeps its identity and trust files: `--home`, else `$FERRY_HOME`, else
 * `$XDG_CONFIG_HOME/ferry`, else `~/.config/ferry`. Always returns an absolute path, so a later `chdir`
 * cannot move it. Empty variables count as unset, and a relative `$XDG_CONFIG_HOME` is ignored, as the XDG
 * base directory spec requires.
 */
export function resolveHomeDir(options: ResolveHomeDirOptions = {}): string {
  const env = options.env ?? process.env;
  const userHome = nonEmpty(env['HOME']) ?? homedir();
  const explicit = nonEmpty(options.home) ?? nonEmpty(env['FERRY_HOME']);
  if (explicit !== undefined) return resolve(expandTilde(explicit, userHome));
  const xdg = nonEmpty(env['XDG_CONFIG_HOME']);
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'ferry');
  return join(userHome, '.config', 'ferry');
}

/**
 * Creates the home directory (and missing parents) with mode 0700: it holds the private key, and its
 * listing alone tells others whom this host trusts. An existing directory is left as it is.
 */
export async function ensureHomeDir(dir: string, options: { signal?: AbortSignal } = {}): Promise<void> {
  options.signal?.throwIfAborted();
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

// `--home=~/x` reaches us unexpanded (the shell only expands a leading `~` of a whole word).
function expandTilde(path: string, userHome: string): string {
  if (path === '~') return userHome;
  if (path.startsWith('~/')) return join(userHome, path.slice(2));
  return path;
}
