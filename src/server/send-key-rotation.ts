import { serverRotationProof } from '../crypto/index.js';
import type { SecureChannel } from '../channel/index.js';
import type { SessionContext } from './session-io.js';

/**
 * PROTOCOL.md §13: right after WELCOME, a server rotating its key sends KEY_ROTATE (the new key, proved for
 * this client and this session), and one with a prepared next key sends KEY_COMMIT.
 */
export async function sendKeyRotation(ctx: SessionContext, channel: SecureChannel): Promise<void> {
  const rotation = ctx.keyRotation;
  if (rotation?.rotateTo) {
    const { identity, nextCommitment } = rotation.rotateTo;
    const proof = serverRotationProof(identity, channel.remotePublicKey, {
      handshakeHash: channel.handshakeHash,
      oldKey: ctx.identity.publicKey,
      nextCommitment,
    });
    await channel.send({ type: 'KEY_ROTATE', newKey: identity.publicKey, nextCommitment, proof });
  } else if (rotation?.nextCommitment) {
    await channel.send({ type: 'KEY_COMMIT', commitment: rotation.nextCommitment });
  }
}
