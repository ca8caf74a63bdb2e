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
 * The DH section of an `hfs` protocol name: the KEM follows the DH function after a plus sign (noise_hfs §5).
 * ML-KEM-768 (FIPS 203) is the one KEM implemented.
 */
export const NOISE_HFS_DH = '25519+MLKEM768';

/**
 * Parses `Noise_<pattern>_25519_AESGCM_SHA256` (spec §8) or `Noise_<pattern>hfs_25519+MLKEM768_AESGCM_SHA256`
 * (noise_hfs §5), or a bare pattern name such as `XX`, `XXhfs` or `IKpsk2`, which gets ferry's suite appended. Anything else throws HANDSHAKE_FAILED with a detail starting
 * "unsupported", naming the part that is not implemented.
 */
export function parseProtocolName(nameOrPattern: string): NoiseProtocol {
  const bareHfs = /^[NKXI1]+hfs/.test(nameOrPattern);
  const name = nameOrPattern.startsWith('Noise_')
    ? nameOrPattern
    : bareHfs
      ? `Noise_${nameOrPattern}_${NOISE_HFS_DH}_AESGCM_SHA256`
      : `Noise_${nameOrPattern}_${NOISE_SUITE}`;
  const parts = name.split('_');
  if (parts.length !== 5) {
    throw new FerryError('HANDSHAKE_FAILED', `unsupported protocol name "${name}": expected 5 fields`);
  }
  const [, patternName = '', dhName, cipherName, hashName] = parts;
  if (cipherName !== 'AESGCM') throw unsupported(name, 'cipher', cipherName);
  if (hashName !== 'SHA256') throw unsupported(name, 'hash', hashName);
  const pattern = handshakePattern(patternName);
  // An hfs pattern needs the KEM named beside the DH function, and only an hfs pattern may name one.
  if (dhName !== (pattern.hfs ? NOISE_HFS_DH : '25519')) throw unsupported(name, 'dh function', dhName);
  return { name, pattern };
}

function unsupported(name: string, what: string, value: string | undefined): FerryError {
  return new FerryError('HANDSHAKE_FAILED', `unsupported protocol name "${name}": ${what} "${value ?? ''}"`);
}
