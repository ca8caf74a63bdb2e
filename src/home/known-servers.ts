import { FerryError } from '../errors/index.js';
import { formatFerryId, parseFerryId } from '../crypto/ferry-id.js';
import { ensureHomeDir } from './home-dir.js';
import { withFileLock } from './file-lock.js';
import { knownServersPath, readKnownServerEntries, writeKnownServers } from './known-servers-file.js';
import { compareAddresses } from './known-servers-json.js';
import { parseServerAddress } from './parse-server-address.js';

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
  return [...servers]
    .map(([address, id]) => ({ address, id }))
    .sort((a, b) => compareAddresses(a.address, b.address));
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

  const entries = await readKnownServerEntries(homeDir, signal);
  const pinned = entries.get(address);
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
    // `ferry pair localhost:7443` then `ferry send F 127.0.0.1:7443`: pins are by address, as OpenSSH's are,
    // and the user was left to guess why a server just paired with is unknown.
    const elsewhere = [...entries].filter(([other, entry]) => other !== address && entry.id === offeredId);
    const sameKey =
      elsewhere.length === 0
        ? ''
        : `; this key is pinned for ${elsewhere.map(([other]) => other).join(', ')} (the same server by another name?)`;
    throw new FerryError(
      'SERVER_KEY_UNKNOWN',
      `offered ferry id ${offeredId}${confirm === undefined ? '' : ' and it was not accepted'}${sameKey}`,
      {
        subject: address,
        hint:
          `if that is the id the operator of the server gave you, run \`ferry trust ${address} ${offeredId}\` ` +
          `or pass \`--expect ${offeredId}\` (or \`--accept-new\` to trust whatever key it offers the first time)`,
      },
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
      `pinned ferry id: ${pinnedId}; offered ferry id: ${offeredId}`,
    {
      subject: address,
      hint: `only if the operator of the server confirms the new id, run \`ferry trust ${address} ${offeredId}\` or edit ${knownServersPath(homeDir)}`,
    },
  );
}

async function readKnownServers(
  homeDir: string,
  signal: AbortSignal | undefined,
): Promise<Map<string, string>> {
  const entries = await readKnownServerEntries(homeDir, signal);
  return new Map([...entries].map(([address, entry]) => [address, entry.id]));
}
