import { FerryError } from '../errors/index.js';
// CPace from its own file: the crypto barrel leaves it out so that only pairing loads its group (issue 14).
import { cpaceSampleScalar } from '../crypto/cpace.js';

const SID_BYTES = 32;
const STATIC_KEY_BYTES = 32;
/** ADb, the server's CPace associated data: empty (the invite id is the client's ADa). */
export const EMPTY = Buffer.alloc(0);

/** What both roles know from the Noise handshake they run inside (§12.2). */
export interface PairingSessionBinding {
  /** The Noise handshake hash after message 3 (CPace's sid). */
  sid: Uint8Array;
  /** The client's static X25519 public key as the handshake authenticated it. */
  clientStaticKey: Uint8Array;
  /** The server's static X25519 public key as the handshake authenticated it. */
  serverStaticKey: Uint8Array;
  /** The random source for CPace scalars (and the server's stand-in secret); tests inject one. */
  random?: (bytes: number) => Uint8Array;
}

/** The binding checked (the handshake hash's and the keys' lengths) and copied, without the random source. */
export function checkBinding(
  options: PairingSessionBinding,
): Required<Omit<PairingSessionBinding, 'random'>> {
  if (options.sid.length !== SID_BYTES) {
    throw new FerryError(
      'INTERNAL',
      `pairing sid must be the ${SID_BYTES}-byte handshake hash, got ${options.sid.length}`,
    );
  }
  for (const [name, key] of [
    ['client', options.clientStaticKey],
    ['server', options.serverStaticKey],
  ] as const) {
    if (key.length !== STATIC_KEY_BYTES) {
      throw new FerryError(
        'INTERNAL',
        `${name} static key must be ${STATIC_KEY_BYTES} bytes, got ${key.length}`,
      );
    }
  }
  return {
    sid: Buffer.from(options.sid),
    clientStaticKey: Buffer.from(options.clientStaticKey),
    serverStaticKey: Buffer.from(options.serverStaticKey),
  };
}

/**
 * The CPace scalar option of a role: an injected random source also draws the scalar (deterministic tests);
 * otherwise cpace samples it.
 */
export function scalarOption(random: ((bytes: number) => Uint8Array) | undefined): { scalar?: Uint8Array } {
  return random === undefined ? {} : { scalar: cpaceSampleScalar(random) };
}
