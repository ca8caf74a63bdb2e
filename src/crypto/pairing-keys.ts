import { createHash, createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { cpaceLvCat } from './cpace.js';

/**
 * The key material of pairing (PROTOCOL.md §12.2, §12.3): the password-related string, the channel id, the
 * confirmation transcript and tags, and the outcome. Pure math over bytes. The exchange that puts them into
 * PAIR_* messages, and the order of its steps, is src/machines/pairing-exchange.ts: the message layout lives
 * in protocol/, which may import crypto/ but not the other way round.
 */

/** Bytes of a key-confirmation tag (HMAC-SHA-512). */
export const PAIR_CONFIRM_TAG_BYTES = 64;

const PRS_LABEL = Buffer.from('ferry-pair-prs-v1', 'ascii');
const CI_LABEL = Buffer.from('ferry-pair-ci-v1', 'ascii');
const CLIENT_LABEL = Buffer.from('ferry-pair-client', 'ascii');
const SERVER_LABEL = Buffer.from('ferry-pair-server', 'ascii');

/**
 * A successful pairing: both sides proved the same code inside this Noise session. Holds ISK (for callers
 * that want a key bound to the pairing; ferry itself needs none), so it prints as `[redacted]`.
 */
export class PairingResult {
  /** The invite the code named. */
  readonly inviteId: string;
  /** CPace's intermediate session key (64 bytes). Zero it with `dispose()`. */
  readonly isk: Buffer;

  /** @internal */
  constructor(inviteId: string, isk: Uint8Array) {
    this.inviteId = inviteId;
    this.isk = Buffer.from(isk);
  }

  /** Zeroes ISK. Idempotent. */
  dispose(): void {
    this.isk.fill(0);
  }

  [inspect.custom](): string {
    return `PairingResult ${this.inviteId} [redacted]`;
  }

  toJSON(): string {
    return '[redacted]';
  }
}

/** `PRS = SHA-512(lv_cat("ferry-pair-prs-v1", inviteId, secret))` (§12.2). Secret: zero it after use. */
export function pairingPrs(inviteId: string, secret: Uint8Array): Buffer {
  const input = cpaceLvCat(PRS_LABEL, Buffer.from(inviteId, 'ascii'), secret);
  try {
    return createHash('sha512').update(input).digest();
  } finally {
    input.fill(0);
  }
}

/** `CI = lv_cat("ferry-pair-ci-v1", clientStaticKey, serverStaticKey)`: the roles are fixed by position. */
export function pairingChannelId(clientStaticKey: Uint8Array, serverStaticKey: Uint8Array): Buffer {
  return cpaceLvCat(CI_LABEL, clientStaticKey, serverStaticKey);
}

/** `T = lv_cat(sid, Ya, ADa, Yb, ADb)` (§12.3). */
export function pairingConfirmTranscript(
  sid: Uint8Array,
  ya: Uint8Array,
  ada: Uint8Array,
  yb: Uint8Array,
  adb: Uint8Array,
): Buffer {
  return cpaceLvCat(sid, ya, ada, yb, adb);
}

/** The client's tag `Tc = HMAC-SHA-512(ISK, lv_cat("ferry-pair-client", T))` (§12.3). */
export function pairingClientTag(isk: Uint8Array, transcript: Uint8Array): Buffer {
  return confirmTag(isk, CLIENT_LABEL, transcript);
}

/** The server's tag `Ts = HMAC-SHA-512(ISK, lv_cat("ferry-pair-server", T))` (§12.3). */
export function pairingServerTag(isk: Uint8Array, transcript: Uint8Array): Buffer {
  return confirmTag(isk, SERVER_LABEL, transcript);
}

function confirmTag(isk: Uint8Array, label: Uint8Array, transcript: Uint8Array): Buffer {
  return createHmac('sha512', isk).update(cpaceLvCat(label, transcript)).digest();
}
