import { FerryError } from '../errors/index.js';
import { formatFerryId, parseFerryId } from '../crypto/ferry-id.js';
import { isPlainObject } from './config-fields.js';
import { parseServerAddress } from './parse-server-address.js';

/** The version of the file format written; a file of another version is refused. */
const FILE_VERSION = 1;

/** A pin: the server's ferry ID and, once announced, the commitment to its next key (hex; §13.2). */
export interface KnownServer {
  id: string;
  next?: string;
  /**
   * The key the pin moved from in a rotation (§13.4), still accepted until the server is seen with `id`: the
   * server keeps handshaking with its old key until its operator finishes the rotation.
   */
  prev?: string;
}

/**
 * Validates the parsed file by hand. Hand-written addresses in another spelling (`Example.COM:7443`) are
 * accepted and normalised, but two spellings of one address are refused: which pin would win is unclear.
 */
export function validateKnownServers(json: unknown, path: string): Map<string, KnownServer> {
  const fail = (what: string): never => {
    throw new FerryError('CONFIG_INVALID', `${path}: ${what}`);
  };
  if (!isPlainObject(json))
    return fail('expected an object { "version": 1, "servers": { "HOST:PORT": "ID" } }');
  for (const key of Object.keys(json))
    if (key !== 'version' && key !== 'servers') fail(`unknown key ${JSON.stringify(key)}`);
  if (json['version'] !== FILE_VERSION)
    fail(`version must be ${FILE_VERSION}, got ${JSON.stringify(json['version'])}`);
  const entries = json['servers'];
  if (!isPlainObject(entries)) return fail('servers must be an object mapping "HOST:PORT" to a ferry id');
  const servers = new Map<string, KnownServer>();
  for (const [key, value] of Object.entries(entries)) {
    const at = `servers[${JSON.stringify(key)}]`;
    let address: string;
    try {
      address = parseServerAddress(key);
    } catch (err) {
      return fail(`${at}: ${(err as Error).message}`);
    }
    if (servers.has(address)) fail(`${at} is another spelling of ${address}, which is already listed`);
    // A ferry id, or { "id": ID, "next": commitment } once the server announced its next key (§13.2).
    const idText = isPlainObject(value) ? value['id'] : value;
    const next = isPlainObject(value) ? value['next'] : undefined;
    if (isPlainObject(value)) {
      for (const key of Object.keys(value))
        if (key !== 'id' && key !== 'next' && key !== 'prev')
          fail(`${at} has unknown key ${JSON.stringify(key)}`);
      if (typeof next !== 'string' || !/^[0-9a-f]{64}$/.test(next))
        return fail(`${at}.next must be 64 lower-case hex digits`);
    }
    const prevText = isPlainObject(value) ? value['prev'] : undefined;
    let prev: string | undefined;
    if (prevText !== undefined) {
      if (typeof prevText !== 'string') return fail(`${at}.prev must be a ferry id string`);
      try {
        prev = formatFerryId(parseFerryId(prevText));
      } catch (err) {
        return fail(`${at}.prev: ${(err as Error).message}`);
      }
    }
    if (typeof idText !== 'string') return fail(`${at} must be a ferry id string`);
    try {
      servers.set(address, {
        id: formatFerryId(parseFerryId(idText)),
        ...(typeof next === 'string' ? { next } : {}),
        ...(prev === undefined ? {} : { prev }),
      });
    } catch (err) {
      return fail(`${at}: ${(err as Error).message}`);
    }
  }
  return servers;
}

/** The file's text for `servers` (`{ "version": 1, "servers": { "HOST:PORT": ID or entry } }`). */
export function knownServersText(servers: ReadonlyMap<string, KnownServer>): string {
  // Sorted, so the file diffs cleanly and reads like a list; a pin without a commitment stays a plain id.
  const sorted = Object.fromEntries(
    [...servers]
      .sort(([a], [b]) => compareAddresses(a, b))
      .map(([address, entry]) => [address, entry.next === undefined ? entry.id : entry]),
  );
  return `${JSON.stringify({ version: FILE_VERSION, servers: sorted }, null, 2)}\n`;
}

/** Orders addresses by code unit: the order of the file and of `listKnownServers`. */
export function compareAddresses(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
