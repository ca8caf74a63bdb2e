import { startMessage, type MessageCodecTable } from './message-codec.js';

/** Bytes of a key commitment (SHA-256), of a public key (X25519), and of a rotation proof (HMAC-SHA-256). */
export const KEY_COMMITMENT_BYTES = 32;
export const KEY_ROTATION_PROOF_BYTES = 32;
const PUBLIC_KEY_BYTES = 32;

/** The codecs of server key rotation (PROTOCOL.md §13): fixed-length bodies, any other length is malformed. */
export const KEY_CODECS: MessageCodecTable<'KEY_COMMIT' | 'KEY_ROTATE'> = {
  KEY_COMMIT: {
    encode(message) {
      return startMessage('KEY_COMMIT', KEY_COMMITMENT_BYTES)
        .fixed(message.commitment, KEY_COMMITMENT_BYTES, 'commitment')
        .finish();
    },
    decode(r) {
      const commitment = r.copy(KEY_COMMITMENT_BYTES, 'commitment');
      r.end();
      return { type: 'KEY_COMMIT', commitment };
    },
  },
  KEY_ROTATE: {
    encode(message) {
      return startMessage('KEY_ROTATE', PUBLIC_KEY_BYTES + KEY_COMMITMENT_BYTES + KEY_ROTATION_PROOF_BYTES)
        .fixed(message.newKey, PUBLIC_KEY_BYTES, 'newKey')
        .fixed(message.nextCommitment, KEY_COMMITMENT_BYTES, 'nextCommitment')
        .fixed(message.proof, KEY_ROTATION_PROOF_BYTES, 'proof')
        .finish();
    },
    decode(r) {
      const newKey = r.copy(PUBLIC_KEY_BYTES, 'newKey');
      const nextCommitment = r.copy(KEY_COMMITMENT_BYTES, 'nextCommitment');
      const proof = r.copy(KEY_ROTATION_PROOF_BYTES, 'proof');
      r.end();
      return { type: 'KEY_ROTATE', newKey, nextCommitment, proof };
    },
  },
};
