import { FerryError } from '../errors/index.js';
import { parseServerAddress } from '../home/index.js';
import { DEFAULT_PORT } from '../protocol/index.js';

/** A parsed `HOST[:PORT][/REMOTE_PATH]` argument. */
export interface Target {
  /** Normalised `host:port`, the key server pins are stored under. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The remote path after the first `/`, or '' when none was given. */
  readonly remotePath: string;
}

/**
 * Parses `HOST[:PORT][/REMOTE_PATH]`; IPv6 hosts go in brackets (`[::1]:7443/dir`). The port defaults to
 * 7443.
 */
export function parseTarget(text: string): Target {
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
  };
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
