import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { FerryError } from '../errors/index.js';
import {
  CPACE_ISK_BYTES,
  CPACE_POINT_BYTES,
  CPACE_SCALAR_BYTES,
  cpaceLvCat,
  cpacePrependLen,
} from './cpace-encoding.js';

export { CPACE_ISK_BYTES, CPACE_POINT_BYTES, CPACE_SCALAR_BYTES, cpaceLvCat, cpacePrependLen };

/**
 * CPace (draft-irtf-cfrg-cpace), cipher suite CPACE-RISTR255-SHA512: the group ristretto255 (RFC 9496) with
 * SHA-512, checked against the draft's test vector (test/crypto/cpace-vectors.test.ts). Pure: bytes in,
 * bytes out. Used by the pairing exchange of PROTOCOL.md §12, which fixes PRS, CI, sid and AD.
 *
 * The group arithmetic is @noble/curves (audited). Scalars become bigints for it, which JS cannot wipe; every
 * byte buffer holding a scalar, K or a hash of the password is zeroed once used.
 */

const DSI = Buffer.from('CPaceRistretto255', 'ascii');
const DSI_ISK = Buffer.from('CPaceRistretto255_ISK', 'ascii');
/** SHA-512's input block size (H.s_in_bytes): the zero padding fills the first block after DSI and PRS. */
const SHA512_BLOCK_BYTES = 128;
const Point = ristretto255.Point;
const GROUP_ORDER = Point.Fn.ORDER;
/** G.I: the encoding of the identity element, which ristretto255 defines as 32 zero bytes. */
const IDENTITY = new Uint8Array(CPACE_POINT_BYTES);

type RistrettoPoint = InstanceType<typeof Point>;

/** Which transcript goes into ISK: initiator-responder (`transcript_ir`) or ordered concatenation (`transcript_oc`). */
export type CpaceTranscript = 'ir' | 'oc';

/**
 * `calculate_generator` for ristretto255: the encoded generator g derived from the password-related string,
 * the channel identifier and the session id. Secret (it is a function of the password): zero it after use.
 */
export function cpaceGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Buffer {
  return Buffer.from(generatorPoint(prs, ci, sid).toBytes());
}

/**
 * `sample_scalar` as the draft recommends for ristretto255: 32 random bytes with the bits from bit 252 up
 * cleared, read little-endian. Zero (probability 2^-252) is sampled again, since it would give the identity.
 */
export function cpaceSampleScalar(random: (bytes: number) => Uint8Array = randomBytes): Buffer {
  for (;;) {
    const scalar = Buffer.from(random(CPACE_SCALAR_BYTES));
    if (scalar.length !== CPACE_SCALAR_BYTES)
      throw new FerryError('INTERNAL', 'random source gave a short read');
    scalar[CPACE_SCALAR_BYTES - 1] = (scalar[CPACE_SCALAR_BYTES - 1] ?? 0) & 0x0f;
    if (scalar.some((byte) => byte !== 0)) return scalar;
  }
}

/**
 * `scalar_mult_vfy(y, X)`: `encode(y · decode(X))`, or G.I (32 zero bytes) when X does not decode to a group
 * element. The caller MUST abort when the result is G.I (draft §"CPace protocol instructions"). This is the
 * draft's building block, exported for the test vector only: K must never leave this module otherwise.
 */
export function cpaceScalarMultVfy(scalar: Uint8Array, encodedPoint: Uint8Array): Buffer {
  let point: RistrettoPoint;
  try {
    point = Point.fromBytes(encodedPoint);
  } catch {
    return Buffer.from(IDENTITY);
  }
  if (point.is0()) return Buffer.from(IDENTITY);
  return Buffer.from(point.multiply(scalarValue(scalar)).toBytes());
}

/** Arguments of {@link cpaceDeriveIsk}. */
export interface CpaceIskInputs {
  sid: Uint8Array;
  /** The shared element K from {@link cpaceScalarMultVfy}. */
  k: Uint8Array;
  /** The initiator's message and associated data. */
  ya: Uint8Array;
  ada: Uint8Array;
  /** The responder's message and associated data. */
  yb: Uint8Array;
  adb: Uint8Array;
  /** Defaults to 'ir'. */
  transcript?: CpaceTranscript;
}

/** `ISK = H.hash(lv_cat(DSI || "_ISK", sid, K) || transcript(Ya, ADa, Yb, ADb))`. */
export function cpaceDeriveIsk(inputs: CpaceIskInputs): Buffer {
  const prefix = cpaceLvCat(DSI_ISK, inputs.sid, inputs.k);
  try {
    return createHash('sha512')
      .update(prefix)
      .update(cpaceTranscript(inputs.ya, inputs.ada, inputs.yb, inputs.adb, inputs.transcript ?? 'ir'))
      .digest();
  } finally {
    prefix.fill(0);
  }
}

/** `transcript_ir(Ya, ADa, Yb, ADb)` or `transcript_oc(...)` (the draft's string functions). */
export function cpaceTranscript(
  ya: Uint8Array,
  ada: Uint8Array,
  yb: Uint8Array,
  adb: Uint8Array,
  kind: CpaceTranscript,
): Buffer {
  const first = cpaceLvCat(ya, ada);
  const second = cpaceLvCat(yb, adb);
  if (kind === 'ir') return Buffer.concat([first, second]);
  // o_cat: "oc", then the lexicographically larger string first (Buffer.compare is exactly that order).
  const [larger, smaller] = Buffer.compare(first, second) > 0 ? [first, second] : [second, first];
  return Buffer.concat([Buffer.from('oc', 'ascii'), larger, smaller]);
}

/** The inputs both parties share, plus this party's associated data (sent in clear beside its message). */
export interface CpaceInputs {
  /** The password-related string. The caller keeps ownership (and zeroes it). */
  prs: Uint8Array;
  /** The channel identifier: party identities, in an encoding that fixes their roles. */
  ci: Uint8Array;
  /** The session id, unique per session (ferry: the Noise handshake hash). */
  sid: Uint8Array;
  /** This party's associated data, ADa for the initiator and ADb for the responder. */
  ad: Uint8Array;
  /** A fixed 32-byte little-endian scalar, for test vectors only; it is zeroed once read. */
  scalar?: Uint8Array;
  /** Defaults to 'ir'. */
  transcript?: CpaceTranscript;
}

/**
 * The initiator's state between sending Ya and receiving Yb: holds the secret scalar, so it prints as
 * `[redacted]`; {@link cpaceInitiatorFinish} consumes it (a second finish throws).
 */
export class CpaceInitiatorState {
  readonly #sid: Buffer;
  readonly #ya: Buffer;
  readonly #ada: Buffer;
  readonly #transcript: CpaceTranscript;
  #scalar: bigint | undefined;

  /** @internal Built by {@link cpaceInitiatorStart}. */
  constructor(scalar: bigint, sid: Uint8Array, ya: Uint8Array, ada: Uint8Array, transcript: CpaceTranscript) {
    this.#scalar = scalar;
    this.#sid = Buffer.from(sid);
    this.#ya = Buffer.from(ya);
    this.#ada = Buffer.from(ada);
    this.#transcript = transcript;
  }

  /** @internal */
  finish(yb: Uint8Array, adb: Uint8Array): Buffer {
    const scalar = this.#scalar;
    if (scalar === undefined) throw new FerryError('INTERNAL', 'cpace initiator state already used');
    this.#scalar = undefined;
    const k = verifiedSharedPoint(scalar, yb);
    try {
      return cpaceDeriveIsk({
        sid: this.#sid,
        k,
        ya: this.#ya,
        ada: this.#ada,
        yb,
        adb,
        transcript: this.#transcript,
      });
    } finally {
      k.fill(0);
    }
  }

  /** Forgets the scalar without finishing (an aborted exchange). Idempotent. */
  dispose(): void {
    this.#scalar = undefined;
  }

  [inspect.custom](): string {
    return 'CpaceInitiatorState [redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }
}

/**
 * Party A's first step: computes g, samples ya and returns `Ya = ya · g` (to send with ADa) and the state
 * that later turns Yb into ISK.
 */
export function cpaceInitiatorStart(inputs: CpaceInputs): { message: Buffer; state: CpaceInitiatorState } {
  const scalar = takeScalar(inputs.scalar);
  const message = Buffer.from(generatorPoint(inputs.prs, inputs.ci, inputs.sid).multiply(scalar).toBytes());
  return {
    message,
    state: new CpaceInitiatorState(scalar, inputs.sid, message, inputs.ad, inputs.transcript ?? 'ir'),
  };
}

/**
 * Party A's second step: `K = scalar_mult_vfy(ya, Yb)`, abort when K is G.I (INVALID_PUBLIC_KEY), else ISK.
 * The state's scalar is forgotten whether or not this succeeds.
 */
export function cpaceInitiatorFinish(
  state: CpaceInitiatorState,
  peer: { message: Uint8Array; ad: Uint8Array },
): Buffer {
  return state.finish(peer.message, peer.ad);
}

/**
 * Party B's only step: given A's Ya and ADa, computes `Yb = yb · g` (to send with ADb) and ISK; aborts with
 * INVALID_PUBLIC_KEY when Ya is not a valid encoding or K would be the identity.
 */
export function cpaceResponderRespond(
  inputs: CpaceInputs,
  peer: { message: Uint8Array; ad: Uint8Array },
): { message: Buffer; isk: Buffer } {
  const scalar = takeScalar(inputs.scalar);
  // Ya is checked before anything is computed from the password, so a bad message costs nothing.
  const k = verifiedSharedPoint(scalar, peer.message);
  try {
    const message = Buffer.from(generatorPoint(inputs.prs, inputs.ci, inputs.sid).multiply(scalar).toBytes());
    const isk = cpaceDeriveIsk({
      sid: inputs.sid,
      k,
      ya: peer.message,
      ada: peer.ad,
      yb: message,
      adb: inputs.ad,
      transcript: inputs.transcript ?? 'ir',
    });
    return { message, isk };
  } finally {
    k.fill(0);
  }
}

function generatorPoint(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): RistrettoPoint {
  const zeroPadBytes = Math.max(
    0,
    SHA512_BLOCK_BYTES - 1 - cpacePrependLen(prs).length - cpacePrependLen(DSI).length,
  );
  // generator_string: the padding keeps DSI and PRS alone in SHA-512's first block (side-channel hygiene).
  const generatorString = cpaceLvCat(DSI, prs, Buffer.alloc(zeroPadBytes), ci, sid);
  const hash = createHash('sha512').update(generatorString).digest();
  try {
    // element_derivation (RFC 9496 §4.3.4): 64 uniform bytes -> two one-way maps, added.
    // Optional in noble's hasher type; always present for ristretto255.
    const element = ristretto255_hasher.deriveToCurve?.(hash);
    if (element === undefined) throw new FerryError('INTERNAL', 'ristretto255 element derivation missing');
    return element;
  } finally {
    generatorString.fill(0);
    hash.fill(0);
  }
}

// K = y · decode(Y), refusing what the draft makes both parties abort on: Y that does not decode, and K = G.I
// (for a prime-order group with y ≠ 0 that is exactly Y = identity).
function verifiedSharedPoint(scalar: bigint, encodedPoint: Uint8Array): Buffer {
  if (encodedPoint.length !== CPACE_POINT_BYTES) {
    throw new FerryError(
      'INVALID_PUBLIC_KEY',
      `cpace message must be ${CPACE_POINT_BYTES} bytes, got ${encodedPoint.length}`,
    );
  }
  let point: RistrettoPoint;
  try {
    point = Point.fromBytes(encodedPoint);
  } catch (err) {
    throw new FerryError('INVALID_PUBLIC_KEY', 'cpace message is not a ristretto255 encoding', {
      cause: err,
    });
  }
  if (point.is0()) throw new FerryError('INVALID_PUBLIC_KEY', 'cpace message is the identity element');
  const k = Buffer.from(point.multiply(scalar).toBytes());
  if (k.equals(IDENTITY)) throw new FerryError('INVALID_PUBLIC_KEY', 'cpace shared element is the identity');
  return k;
}

function takeScalar(injected: Uint8Array | undefined): bigint {
  const bytes = injected ?? cpaceSampleScalar();
  try {
    return scalarValue(bytes);
  } finally {
    bytes.fill(0);
  }
}

// Little-endian bytes -> scalar mod the group order (noble multiplies only by 1 <= y < order; y and y mod
// order give the same element, so reducing keeps the draft's results).
function scalarValue(bytes: Uint8Array): bigint {
  if (bytes.length !== CPACE_SCALAR_BYTES) {
    throw new FerryError('INTERNAL', `a cpace scalar is ${CPACE_SCALAR_BYTES} bytes, got ${bytes.length}`);
  }
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  value %= GROUP_ORDER;
  if (value === 0n) throw new FerryError('INTERNAL', 'cpace scalar is zero modulo the group order');
  return value;
}
