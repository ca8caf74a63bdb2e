import { FerryError } from '../errors/index.js';
import { formatFerryId } from '../crypto/ferry-id.js';
import { keyCommitment } from '../crypto/key-rotation.js';
import { withFileLock } from './file-lock.js';
import { knownServersPath, readKnownServerEntries, writeKnownServers } from './known-servers-file.js';
import { parseServerAddress } from './parse-server-address.js';

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
