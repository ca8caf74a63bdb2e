import { timingSafeEqual } from 'node:crypto';
import { FerryError } from '../errors/index.js';
import { clientRotationProof } from '../crypto/index.js';
import { recordKeyCommitment, rotateServerPin } from '../home/index.js';
import type { ServerKeyHandler } from './client-session-options.js';

/**
 * The client's side of server key rotation (PROTOCOL.md §13), for the pins in `homeDir` of the server reached
 * at `address`: a KEY_COMMIT is recorded with the pin (once; §13.2), a KEY_ROTATE moves the pin to the new key
 * only if its proof holds for this session and the recorded commitment names the new key (§13.3), in one
 * atomic write. A rotation that fails either check fails the session with SERVER_KEY_CHANGED and leaves the
 * pin as it was: the current key may be in other hands, and only the operator's committed next key moves it.
 */
export function serverKeyUpdater(
  homeDir: string,
  address: string,
  options: { signal?: AbortSignal; onRotated?: (newKey: Buffer) => void } = {},
): ServerKeyHandler {
  const { signal } = options;
  return async (message, context) => {
    if (message.type === 'KEY_COMMIT') {
      await recordKeyCommitment(
        homeDir,
        { address, pinnedKey: context.serverKey, commitment: message.commitment },
        signal ? { signal } : {},
      );
      return;
    }
    const expected = clientRotationProof(context.identity, message.newKey, {
      handshakeHash: context.handshakeHash,
      oldKey: context.serverKey,
      nextCommitment: message.nextCommitment,
    });
    if (!timingSafeEqual(expected, message.proof)) {
      throw new FerryError(
        'SERVER_KEY_CHANGED',
        'offered a new key without proving it holds it; the pin was not moved',
        { subject: address },
      );
    }
    await rotateServerPin(
      homeDir,
      { address, oldKey: context.serverKey, newKey: message.newKey, nextCommitment: message.nextCommitment },
      signal ? { signal } : {},
    );
    options.onRotated?.(message.newKey);
  };
}
