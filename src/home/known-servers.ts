import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { formatFerryId, parseFerryId } from '../crypto/ferry-id.js';
import { keyCommitment } from '../crypto/key-rotation.js';
import { atomicWriteFile } from './atomic-write-file.js';
import { isPlainObject } from './config-fields.js';
import { ensureHomeDir } from './home-dir.js';
import { withFileLock } from './file-lock.js';
import { readConfigFile } from './read-config-file.js';

/** File name of the client's pinned server keys inside the home directory. */
export const KNOWN_SERVERS_FILE = 'known-servers.json';

const FILE_VERSION = 1;
// Characters that would make URL parsing read something other than a host (userinfo, path, query...),
// plus '%' (percent-escapes and IPv6 zone ids), which would let two spellings name one host.
const NOT_IN_HOST = /[\s/?#@\\%]/;

/** The path of the known-servers file in a home directory. */
export function knownServersPath(homeDir: string): string {
  return join(homeDir, KNOWN_SERVERS_FILE);
}

/**
 * The one spelling of a server address that pins are keyed by: lower-case host, IPv6 in brackets and in
 * its shortest form (`[::1]:7443`), IPv4 canonical, IDN as punycode, no trailing dot. Host parsing is the
 * WHATWG URL parser's, so the pin matches what `ferry` itself will connect to. Bad input is USAGE_INVALID.
 */
export function normaliseServerAddress(host: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new FerryError('USAGE_INVALID', `port must be 1-65535, got ${port}`);
  }
  let bare = host.trim();
  if (bare.startsWith('[') && bare.endsWith(']')) bare = bare.slice(1, -1);
  else if (bare.endsWith('.')) bare = bare.slice(0, -1);
  if (bare === '' || NOT_IN_HOST.test(bare))
    throw new FerryError('USAGE_INVALID', `not a host name: ${JSON.stringify(host)}`);
  let hostname: string;
  try {
    hostname = new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}/`).hostname;
  } catch (err) {
    throw new FerryError('USAGE_INVALID', `not a host name: ${JSON.stringify(host)}`, { cause: err });
  }
  return `${hostname}:${port}`;
}

/**
 * Parses `HOST:PORT` or `[IPV6]:PORT` (as typed on the command line) into its normalised form. Without a
 * port, `defaultPort` is used if given. A bare IPv6 address is refused: `::1:7443` is ambiguous.
 */
export function parseServerAddress(text: string, options: { defaultPort?: number } = {}): string {
  const trimmed = text.trim();
  let host: string;
  let portText: string | undefined;
  if (trimmed.startsWith('[')) {
    const close = trimmed.indexOf(']');
    const rest = close < 0 ? '' : trimmed.slice(close + 1);
    if (close < 0 || (rest !== '' && !rest.startsWith(':'))) {
      throw new FerryError('USAGE_INVALID', `not an address: ${JSON.stringify(text)} (expected [IPV6]:PORT)`);
    }
    host = trimmed.slice(1, close);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colons = trimmed.split(':').length - 1;
    if (colons > 1) {
      throw new FerryError(
        'USAGE_INVALID',
        `put IPv6 addresses in brackets, like [::1]:7443 (got ${JSON.stringify(text)})`,
      );
    }
    const colon = trimmed.indexOf(':');
    host = colon < 0 ? trimmed : trimmed.slice(0, colon);
    portText = colon < 0 ? undefined : trimmed.slice(colon + 1);
  }
  let port: number;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText))
      throw new FerryError('USAGE_INVALID', `not a port: ${JSON.stringify(portText)}`);
    port = Number(portText);
  } else if (options.defaultPort !== undefined) {
    port = options.defaultPort;
  } else {
    throw new FerryError('USAGE_INVALID', `missing port in ${JSON.stringify(text)} (expected HOST:PORT)`);
  }
  return normaliseServerAddress(host, port);
}

/** The pinned ferry ID for a server address (`HOST:PORT`, any spelling), or undefined when not pinned. */
export async function lookupServer(
  homeDir: string,
  address: string,
  options: { signal?: AbortSignal } = {},
): Promise<string | undefined> {
  const servers = await readKnownServers(homeDir, options.signal);
  return servers.get(parseServerAddress(address));
}

/** Every pinned server, sorted by address. */
export async function listKnownServers(
  homeDir: string,
  options: { signal?: AbortSignal } = {},
): Promise<{ address: string; id: string }[]> {
  const servers = await readKnownServers(homeDir, options.signal);
  return [...servers].map(([address, id]) => ({ address, id })).sort((a, b) => compare(a.address, b.address));
}

/** A server address and the ferry ID to pin for it. */
export interface ServerPin {
  /** `HOST:PORT` or `[IPV6]:PORT`, any spelling; stored normalised. */
  address: string;
  /** The server's ferry ID, any accepted spelling; stored canonical. */
  id: string;
}

/**
 * Pins a server's key (`ferry trust HOST:PORT ID`): the explicit, out-of-band-verified act, so it also
 * replaces an existing pin; `previousId` tells the caller to say so. Atomic write, mode 0600.
 */
export async function pinServer(
  homeDir: string,
  pin: ServerPin,
  options: { signal?: AbortSignal } = {},
): Promise<{ previousId: string | undefined }> {
  const { signal } = options;
  const address = parseServerAddress(pin.address);
  const id = formatFerryId(parseFerryId(pin.id));
  await ensureHomeDir(homeDir, { signal });
  return withFileLock(knownServersPath(homeDir), signal, async () => {
    const servers = await readKnownServerEntries(homeDir, signal);
    const previousId = servers.get(address)?.id;
    if (previousId !== id) {
      // A new key by hand: the commitment recorded for the old one says nothing about it (PROTOCOL.md §13).
      servers.set(address, { id });
      await writeKnownServers(homeDir, servers, signal);
    }
    return { previousId };
  });
}

/** The key a server offered during the handshake, and the address it was reached at. */
export interface OfferedServerKey {
  /** `HOST:PORT` as the user gave it (any spelling). */
  address: string;
  /** The server's 32-byte static X25519 public key. */
  publicKey: Uint8Array;
}

/** Options for {@link checkServerKey}: how much the user lets a first contact pin. */
export interface CheckServerKeyOptions {
  /** `--expect ID`: the key must be this one. A match is pinned when the address was unknown. */
  expectId?: string | undefined;
  /** `--accept-new`: trust on first use, i.e. pin an unknown server's key without asking. */
  acceptNew?: boolean;
  /** Asks the user about an unknown key (the CLI wires a TTY prompt); true pins it. */
  confirm?: ((address: string, id: string) => Promise<boolean>) | undefined;
  signal?: AbortSignal;
}

/**
 * Decides whether to trust the key a server offered, in this order:
 *  1. pinned and different: SERVER_KEY_CHANGED, always, whatever the options (like OpenSSH's "REMOTE HOST
 *     IDENTIFICATION HAS CHANGED"): only an explicit `ferry trust` or an edit of the file replaces a pin;
 *  2. `expectId` given and different: SERVER_KEY_CHANGED saying it "does not match --expect" (CHANGED, not
 *     UNKNOWN: the user stated which key is right and this is another one);
 *  3. pinned and equal: trusted;
 *  4. unknown: pinned when `expectId` matched, when `acceptNew`, or when `confirm` says yes; otherwise
 *     SERVER_KEY_UNKNOWN telling how to trust it.
 * `pinned` is true when this call pinned a new key.
 */
export async function checkServerKey(
  homeDir: string,
  offered: OfferedServerKey,
  options: CheckServerKeyOptions = {},
): Promise<{ pinned: boolean; id: string }> {
  const { expectId, acceptNew = false, confirm, signal } = options;
  const address = parseServerAddress(offered.address);
  const offeredId = formatFerryId(offered.publicKey);
  const expected = expectId === undefined ? undefined : formatFerryId(parseFerryId(expectId));

  const pinned = (await readKnownServerEntries(homeDir, signal)).get(address);
  const pinnedId = pinned?.id;
  // §13.4: after a rotation the old key is still the server's until its operator finishes the rotation.
  const previousKey = pinned?.prev !== undefined && pinned.prev === offeredId;
  if (pinnedId !== undefined && pinnedId !== offeredId && !previousKey)
    throw keyChanged(homeDir, address, pinnedId, offeredId);
  if (expected !== undefined && expected !== offeredId) {
    throw new FerryError(
      'SERVER_KEY_CHANGED',
      `offered ferry id ${offeredId}, which does not match --expect ${expected}; ` +
        'someone may be intercepting the connection, or the expected id belongs to another server',
      { subject: address },
    );
  }
  if (pinned?.prev !== undefined && !previousKey) {
    // The server shows its new key: the rotation is over, the old key is no longer accepted.
    await withFileLock(knownServersPath(homeDir), signal, async () => {
      const servers = await readKnownServerEntries(homeDir, signal);
      const entry = servers.get(address);
      if (entry?.id !== offeredId || entry.prev === undefined) return;
      servers.set(address, { id: entry.id, ...(entry.next === undefined ? {} : { next: entry.next }) });
      await writeKnownServers(homeDir, servers, signal);
    });
  }
  if (pinnedId !== undefined) return { pinned: false, id: offeredId };

  const trusted =
    expected !== undefined || acceptNew || (confirm !== undefined && (await confirm(address, offeredId)));
  signal?.throwIfAborted();
  if (!trusted) {
    throw new FerryError(
      'SERVER_KEY_UNKNOWN',
      `offered ferry id ${offeredId}${confirm === undefined ? '' : ' and it was not accepted'}; ` +
        `if that is the id the operator of the server gave you, run \`ferry trust ${address} ${offeredId}\` ` +
        `or pass \`--expect ${offeredId}\` (or \`--accept-new\` to trust whatever key it offers the first time)`,
      { subject: address },
    );
  }
  // Read again right before writing: another ferry may have pinned this address while we were asking.
  await ensureHomeDir(homeDir, { signal });
  return withFileLock(knownServersPath(homeDir), signal, async () => {
    const servers = await readKnownServerEntries(homeDir, signal);
    const racedId = servers.get(address)?.id;
    if (racedId !== undefined) {
      if (racedId !== offeredId) throw keyChanged(homeDir, address, racedId, offeredId);
      return { pinned: false, id: offeredId };
    }
    servers.set(address, { id: offeredId });
    await writeKnownServers(homeDir, servers, signal);
    return { pinned: true, id: offeredId };
  });
}

function keyChanged(homeDir: string, address: string, pinnedId: string, offeredId: string): FerryError {
  return new FerryError(
    'SERVER_KEY_CHANGED',
    'WARNING: REMOTE SERVER IDENTIFICATION HAS CHANGED! ' +
      'someone could be intercepting the connection (a man-in-the-middle attack), or the server key was replaced. ' +
      `pinned ferry id: ${pinnedId}; offered ferry id: ${offeredId}. ` +
      `only if the operator of the server confirms the new id, run \`ferry trust ${address} ${offeredId}\` ` +
      `or edit ${knownServersPath(homeDir)}`,
    { subject: address },
  );
}

/** A pin: the server's ferry ID and, once announced, the commitment to its next key (hex; §13.2). */
interface KnownServer {
  id: string;
  next?: string;
  /**
   * The key the pin moved from in a rotation (§13.4), still accepted until the server is seen with `id`: the
   * server keeps handshaking with its old key until its operator finishes the rotation.
   */
  prev?: string;
}

async function readKnownServers(
  homeDir: string,
  signal: AbortSignal | undefined,
): Promise<Map<string, string>> {
  const entries = await readKnownServerEntries(homeDir, signal);
  return new Map([...entries].map(([address, entry]) => [address, entry.id]));
}

async function readKnownServerEntries(
  homeDir: string,
  signal: AbortSignal | undefined,
): Promise<Map<string, KnownServer>> {
  const path = knownServersPath(homeDir);
  const read = await readConfigFile(path, { signal });
  if (read.status !== 'read') return new Map();
  return validateKnownServers(read.json, path);
}

/** The commitment to the next key recorded for `address`, or undefined (PROTOCOL.md §13.2). */
export async function lookupKeyCommitment(
  homeDir: string,
  address: string,
  options: { signal?: AbortSignal } = {},
): Promise<Buffer | undefined> {
  const entry = (await readKnownServerEntries(homeDir, options.signal)).get(parseServerAddress(address));
  return entry?.next === undefined ? undefined : Buffer.from(entry.next, 'hex');
}

/**
 * Records the commitment a server pinned as `pinnedKey` announced (KEY_COMMIT, PROTOCOL.md §13.2), if none is
 * recorded yet. A recorded commitment is never replaced by an announcement, only by a rotation it allowed
 * ({@link rotateServerPin}): otherwise a thief of the current key could announce a next key of its own.
 * Returns whether it was recorded.
 */
export async function recordKeyCommitment(
  homeDir: string,
  pin: { address: string; pinnedKey: Uint8Array; commitment: Uint8Array },
  options: { signal?: AbortSignal } = {},
): Promise<boolean> {
  const { signal } = options;
  const address = parseServerAddress(pin.address);
  const id = formatFerryId(pin.pinnedKey);
  return withFileLock(knownServersPath(homeDir), signal, async () => {
    const servers = await readKnownServerEntries(homeDir, signal);
    const entry = servers.get(address);
    if (entry?.id !== id || entry.next !== undefined) return false;
    servers.set(address, { id, next: Buffer.from(pin.commitment).toString('hex') });
    await writeKnownServers(homeDir, servers, signal);
    return true;
  });
}

/**
 * Moves the pin of `address` from `oldKey` to `newKey` and records `nextCommitment` (KEY_ROTATE, PROTOCOL.md
 * §13.3), in one atomic write under the lock. The caller has checked the proof; this checks what the file
 * says: the pin must be `oldKey` and its recorded commitment SHA-256(`newKey`), else SERVER_KEY_CHANGED and
 * nothing changes.
 */
export async function rotateServerPin(
  homeDir: string,
  rotation: { address: string; oldKey: Uint8Array; newKey: Uint8Array; nextCommitment: Uint8Array },
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const { signal } = options;
  const address = parseServerAddress(rotation.address);
  const oldId = formatFerryId(rotation.oldKey);
  const newId = formatFerryId(rotation.newKey);
  await withFileLock(knownServersPath(homeDir), signal, async () => {
    const servers = await readKnownServerEntries(homeDir, signal);
    const entry = servers.get(address);
    // Moved already (another session of this run, or an earlier run while the server still used oldKey).
    if (entry?.id === newId && entry.prev === oldId) return;
    if (entry?.id !== oldId) {
      throw new FerryError('SERVER_KEY_CHANGED', `not pinned to ${oldId}; the pin was not moved`, {
        subject: address,
      });
    }
    if (entry.next === undefined || entry.next !== keyCommitment(rotation.newKey).toString('hex')) {
      throw new FerryError(
        'SERVER_KEY_CHANGED',
        `offered a new key ${newId} that its recorded commitment does not name; the pin stays ` +
          `${oldId}. The server's current key may be in other hands: ask its operator`,
        { subject: address },
      );
    }
    servers.set(address, {
      id: newId,
      next: Buffer.from(rotation.nextCommitment).toString('hex'),
      prev: oldId,
    });
    await writeKnownServers(homeDir, servers, signal);
  });
}

/**
 * Validates the parsed file by hand. Hand-written addresses in another spelling (`Example.COM:7443`) are
 * accepted and normalised, but two spellings of one address are refused: which pin would win is unclear.
 */
function validateKnownServers(json: unknown, path: string): Map<string, KnownServer> {
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

async function writeKnownServers(
  homeDir: string,
  servers: ReadonlyMap<string, KnownServer>,
  signal: AbortSignal | undefined,
): Promise<void> {
  // Sorted, so the file diffs cleanly and reads like a list; a pin without a commitment stays a plain id.
  const sorted = Object.fromEntries(
    [...servers]
      .sort(([a], [b]) => compare(a, b))
      .map(([address, entry]) => [address, entry.next === undefined ? entry.id : entry]),
  );
  const text = `${JSON.stringify({ version: FILE_VERSION, servers: sorted }, null, 2)}\n`;
  await atomicWriteFile(knownServersPath(homeDir), text, { mode: 0o600, signal });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
