import { FerryError } from '../errors/index.js';
import { handshakePattern, type HandshakePattern } from './handshake-patterns.js';

/** A parsed Noise protocol name; only the 25519 / AESGCM / SHA256 suite is implemented. */
export interface NoiseProtocol {
  /** The full name, hashed into the handshake (`Noise_XX_25519_AESGCM_SHA256`). */
  readonly name: string;
  readonly pattern: HandshakePattern;
}

/** The one cipher suite ferry implements, in protocol-name form. */
export const NOISE_SUITE = '25519_AESGCM_SHA256';

/**
 * Parses `Noise_<pattern>_25519_AESGCM_SHA256` (spec §8), or a bare pattern name such as `XX` or `IKpsk2`,
 * which gets ferry's suite appended. Anything else throws HANDSHAKE_FAILED with a detail starting
 * "unsupported", naming the part that is not implemented.
 */
export function parseProtocolName(nameOrPattern: string): NoiseProtocol {
  const name = nameOrPattern.startsWith('Noise_') ? nameOrPattern : `Noise_${nameOrPattern}_${NOISE_SUITE}`;
  const parts = name.split('_');
  if (parts.length !== 5) {
    throw new FerryError('HANDSHAKE_FAILED', `unsupported protocol name "${name}": expected 5 fields`);
  }
  const [, patternName = '', dhName, cipherName, hashName] = parts;
  if (dhName !== '25519') throw unsupported(name, 'dh function', dhName);
  if (cipherName !== 'AESGCM') throw unsupported(name, 'cipher', cipherName);
  if (hashName !== 'SHA256') throw unsupported(name, 'hash', hashName);
  return { name, pattern: handshakePattern(patternName) };
}

function unsupported(name: string, what: string, value: string | undefined): FerryError {
  return new FerryError('HANDSHAKE_FAILED', `unsupported protocol name "${name}": ${what} "${value ?? ''}"`);
}
