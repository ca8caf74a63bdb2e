import { createHash, createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { cpaceLvCat } from './cpace-encoding.js';

/**
 * The key material of pairing (PROTOCOL.md §12.2, §12.3): the password-related string, the channel id, the
 * key-confirmation key and tags, and the outcome. Pure math over bytes. The exchange that puts them into
 * PAIR_* messages, and the order of its steps, is src/machines/pairing-exchange.ts: the message layout lives
 * in protocol/, which may import crypto/ but not the other way round.
 */

/** Bytes of a key-confirmation tag (HMAC-SHA-512). */
export const PAIR_CONFIRM_TAG_BYTES = 64;

const PRS_LABEL = Buffer.from('ferry-pair-prs-v1', 'ascii');
const CI_LABEL = Buffer.from('ferry-pair-ci-v1', 'ascii');
/** The draft's label for the key-confirmation MAC key (draft-irtf-cfrg-cpace, "Key confirmation"). */
const MAC_KEY_LABEL = Buffer.from('CPaceMac', 'ascii');

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

/**
 * `mac_key = SHA-512("CPaceMac" || sid || ISK)` (§12.3), the draft's key for explicit key confirmation: the
 * tags are keyed by a key derived from ISK, never by ISK itself, so ISK stays a key no MAC was computed with.
 * Plain concatenation, as the draft writes it (sid and ISK have fixed lengths here). Zero it after use.
 */
export function pairingMacKey(sid: Uint8Array, isk: Uint8Array): Buffer {
  return createHash('sha512').update(MAC_KEY_LABEL).update(sid).update(isk).digest();
}

/**
 * A key-confirmation tag (§12.3): `HMAC-SHA-512(mac_key, lv_cat(Y, AD))` over the CPace message its sender sent
 * and that message's associated data: `Ta` over (Ya, ADa) from the initiator (the client), `Tb` over (Yb, ADb)
 * from the responder (the server).
 */
export function pairingConfirmTag(macKey: Uint8Array, y: Uint8Array, ad: Uint8Array): Buffer {
  return createHmac('sha512', macKey).update(cpaceLvCat(y, ad)).digest();
}

/** Both tags of a pairing (§12.3): `ta`, the client's (PAIR_CONFIRM), and `tb`, the server's (PAIR_DONE). */
export interface PairingConfirmTags {
  readonly ta: Buffer;
  readonly tb: Buffer;
}

/** Computes `mac_key` and both tags from one CPace run, then zeroes `mac_key`. */
export function pairingConfirmTags(
  sid: Uint8Array,
  isk: Uint8Array,
  ya: Uint8Array,
  ada: Uint8Array,
  yb: Uint8Array,
  adb: Uint8Array,
): PairingConfirmTags {
  const macKey = pairingMacKey(sid, isk);
  try {
    return { ta: pairingConfirmTag(macKey, ya, ada), tb: pairingConfirmTag(macKey, yb, adb) };
  } finally {
    macKey.fill(0);
  }
}
