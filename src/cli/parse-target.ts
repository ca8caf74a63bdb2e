import { FerryError } from '../errors/index.js';
import { parseServerAddress } from '../home/index.js';
import { DEFAULT_PORT, parseRemotePath } from '../protocol/index.js';

/** A parsed `HOST[:PORT][/REMOTE_PATH]` argument. */
export interface Target {
  /** Normalised `host:port`, the key server pins are stored under. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The remote path after the first `/` without trailing `/`s, or '' when none was given. */
  readonly remotePath: string;
  /** The path ended in `/` (or was only `/`): it names a directory, as with scp. */
  readonly directory: boolean;
}

/**
 * Parses `HOST[:PORT][/REMOTE_PATH]`; IPv6 hosts go in brackets (`[::1]:7443/dir`). The port defaults to
 * 7443.
 */
export function parseTarget(text: string): Target {
  // `/tmp/x`, `./x`, `~/x` were read as an empty host, `.` or `~`: "not a host name" left the user to find
  // that the argument in a server's place names a path here (a swapped send/get, a mistyped local side).
  if (isLocalPathForm(text))
    throw new FerryError(
      'USAGE_INVALID',
      'is a path on this machine, where a server was expected: HOST[:PORT][/REMOTE_PATH]',
      { subject: text },
    );
  let hostPort: string;
  let remotePath: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new FerryError('USAGE_INVALID', `unclosed [ in ${JSON.stringify(text)}`);
    const slash = text.indexOf('/', close);
    hostPort = slash < 0 ? text : text.slice(0, slash);
    remotePath = slash < 0 ? '' : text.slice(slash + 1);
  } else {
    const slash = text.indexOf('/');
    hostPort = slash < 0 ? text : text.slice(0, slash);
    remotePath = slash < 0 ? '' : text.slice(slash + 1);
    const hint = scpFormHint(text);
    if (hint !== undefined)
      throw new FerryError(
        'USAGE_INVALID',
        `${JSON.stringify(text)} is scp's HOST:PATH form; ferry writes HOST[:PORT]/PATH, here ${hint} (paths are relative to your root on the server)`,
      );
  }
  const address = parseServerAddress(hostPort, { defaultPort: DEFAULT_PORT });
  const colon = address.lastIndexOf(':');
  const rawHost = address.slice(0, colon);
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  return {
    address,
    host,
    port: Number(address.slice(colon + 1)),
    remotePath: remotePath.replace(/\/+$/, ''),
    directory: remotePath === '' ? text.endsWith('/') : remotePath.endsWith('/'),
  };
}

/** `text` can only be a local path: absolute, or starting with `.`, `..` or `~` and a `/` (or alone). */
export function isLocalPathForm(text: string): boolean {
  return /^(\/|\.{1,2}(\/|$)|~(\/|$))/.test(text);
}

/**
 * The ferry spelling of a target typed the scp way (`host:/dir`, `host:dir`, `host:7443:dir`), or
 * undefined when `text` is not one. A plain `host:7443` or `host:7443/dir` is not.
 */
function scpFormHint(text: string): string | undefined {
  const match = /^([^/:]+)(?::(\d{1,5}))?:([^:]*)$/.exec(text);
  if (!match) return undefined;
  const [, host, port, rest] = match;
  const path = rest!.replace(/^\/+/, '');
  // `host:7443` alone, or `host:7443/dir`, is already ferry's form.
  if (port === undefined && /^\d{1,5}(\/|$)/.test(rest!)) return undefined;
  if (port === undefined && rest === '') return undefined;
  return `${host}${port === undefined ? '' : `:${port}`}/${path}`;
}

/** Parses `HOST:PORT` for `--listen` (no path allowed). */
export function parseListen(text: string): { host: string; port: number } {
  // Port 0 (any free port) is valid for listening though never for dialling: parse with a stand-in.
  const anyPort = /:0$/.test(text);
  const target = parseTarget(anyPort ? `${text.slice(0, -2)}:1` : text);
  if (target.remotePath !== '')
    throw new FerryError('USAGE_INVALID', `--listen takes HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: target.host, port: anyPort ? 0 : target.port };
}

/**
 * Refuses a target's remote path that no server would take (PROTOCOL.md §7.1), before connecting, naming
 * it as typed: the rule's own detail never echoes the path (it may go on the wire), which left the user to
 * guess which argument was meant. A `..` gets why: remote paths are relative to the client's root there.
 */
export function checkRemotePath(target: Target): void {
  if (target.remotePath === '') return;
  try {
    parseRemotePath(target.remotePath);
  } catch (err) {
    if (!(err instanceof FerryError)) throw err;
    const climbs = target.remotePath.split('/').includes('..');
    throw new FerryError(
      err.code,
      `${err.detail ?? ''}${climbs ? ' (a remote path is relative to your root on the server and never climbs out of it)' : ''}`,
      { cause: err, subject: `${target.address}/${target.remotePath}` },
    );
  }
}
