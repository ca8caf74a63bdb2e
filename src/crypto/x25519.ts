import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { inspect } from 'node:util';
import { FerryError } from '../errors/index.js';

/** Length in bytes of an X25519 public key, private key and shared secret (Noise DHLEN). */
export const X25519_KEY_BYTES = 32;

// DER wrappers for raw X25519 keys (RFC 8410): Node has no "raw" import format for X25519, so raw bytes are
// wrapped in the fixed PKCS#8 / SPKI headers and the key is appended.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/**
 * An X25519 key pair. The private key stays inside a `KeyObject` (native memory, and OpenSSL's secure heap
 * when node runs with `--secure-heap`) so it never sits in a JS Buffer or string; the public key is plain bytes.
 * Prints as `[redacted]`.
 */
export class KeyPair {
  /** The private key; use it only through `dh()`. */
  readonly privateKey: KeyObject;
  /** The 32-byte public key. */
  readonly publicKey: Buffer;

  constructor(privateKey: KeyObject) {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'x25519') {
      throw new FerryError('KEY_FILE_INVALID', 'expected an x25519 private key');
    }
    this.privateKey = privateKey;
    this.publicKey = rawPublicKey(createPublicKey(privateKey));
  }

  [inspect.custom](): string {
    return 'KeyPair [redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }
}

/** Generates a fresh X25519 key pair from the system CSPRNG. */
export function generateKeyPair(): KeyPair {
  return new KeyPair(generateKeyPairSync('x25519').privateKey);
}

/**
 * Builds a key pair from a raw 32-byte private key (a key file's contents or a test vector). The caller still
 * owns `raw` and should zero it; the DER copy made here is zeroed before returning.
 */
export function keyPairFromPrivateBytes(raw: Uint8Array): KeyPair {
  if (raw.length !== X25519_KEY_BYTES) {
    throw new FerryError(
      'KEY_FILE_INVALID',
      `expected a ${X25519_KEY_BYTES}-byte private key, got ${raw.length}`,
    );
  }
  const der = Buffer.alloc(PKCS8_PREFIX.length + X25519_KEY_BYTES);
  PKCS8_PREFIX.copy(der, 0);
  der.set(raw, PKCS8_PREFIX.length);
  try {
    return new KeyPair(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw new FerryError('KEY_FILE_INVALID', 'private key bytes were rejected', { cause: err });
  } finally {
    der.fill(0);
  }
}

/** Imports a raw 32-byte X25519 public key; a wrong length is INVALID_PUBLIC_KEY. */
export function publicKeyFromBytes(raw: Uint8Array): KeyObject {
  if (raw.length !== X25519_KEY_BYTES) {
    throw new FerryError('INVALID_PUBLIC_KEY', `expected ${X25519_KEY_BYTES} bytes, got ${raw.length}`);
  }
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch (err) {
    throw new FerryError('INVALID_PUBLIC_KEY', 'public key bytes were rejected', { cause: err });
  }
}

/**
 * X25519 Diffie-Hellman (Noise DH()). Returns the 32-byte shared secret, which the caller must zero once it is
 * mixed in. A low-order remote key would give the all-zero secret, letting an attacker force a known key, so
 * it is rejected with INVALID_PUBLIC_KEY (OpenSSL already refuses it; the explicit check guards other builds).
 */
export function dh(privateKey: KeyObject, remotePublicBytes: Uint8Array): Buffer {
  const publicKey = publicKeyFromBytes(remotePublicBytes);
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey });
  } catch (err) {
    throw new FerryError('INVALID_PUBLIC_KEY', 'key agreement failed (low-order point)', { cause: err });
  }
  // Constant-time OR over all bytes: the secret must not leak through an early exit.
  let acc = 0;
  for (const byte of shared) acc |= byte;
  if (acc === 0) {
    throw new FerryError('INVALID_PUBLIC_KEY', 'shared secret is all zero (low-order point)');
  }
  return shared;
}

function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - X25519_KEY_BYTES));
}
