import { createPrivateKey, type KeyObject } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, isFerryError } from '../errors/index.js';
import { formatFerryId } from '../crypto/ferry-id.js';
import { generateKeyPair, KeyPair } from '../crypto/x25519.js';
import { atomicWriteFile } from './atomic-write-file.js';
import { ensureHomeDir } from './home-dir.js';
import { refuseUnlessHomeDirOurs, refuseUnlessOwnedByUs } from './owned-by-us.js';

/** File name of the private key (PKCS#8 PEM, mode 0600) inside the home directory. */
export const IDENTITY_KEY_FILE = 'identity.key';
/** File name of the public ferry ID (one line) inside the home directory; informational only. */
export const IDENTITY_PUB_FILE = 'identity.pub';

// An X25519 PKCS#8 PEM is about 120 bytes; anything this big is not our key file and is not read whole.
const MAX_KEY_FILE_BYTES = 16 * 1024;

/** Options for {@link createIdentity}. */
export interface CreateIdentityOptions {
  /** Replace an existing identity. The old private key is gone for good. */
  force?: boolean;
  signal?: AbortSignal;
}

/**
 * Generates a new identity and writes `identity.key` (mode 0600) and `identity.pub` (its ferry ID). Without
 * `force` the key file is created with O_EXCL, so an existing key is never overwritten, not even by a race
 * between two `ferry keygen`s (KEY_EXISTS). With `force` it is replaced atomically, so a crash leaves the old
 * key or the new one, never neither. A leftover `identity.pub` without a key is simply rewritten.
 */
export async function createIdentity(homeDir: string, options: CreateIdentityOptions = {}): Promise<KeyPair> {
  const { force = false, signal } = options;
  await ensureHomeDir(homeDir, { signal });
  const keyPath = join(homeDir, IDENTITY_KEY_FILE);
  const keyPair = generateKeyPair();
  const pem = encodePrivateKeyPem(keyPair.privateKey);
  try {
    if (force) await atomicWriteFile(keyPath, pem, { mode: 0o600, signal });
    else await writeNewKeyFile(keyPath, pem, signal);
  } finally {
    pem.fill(0);
  }
  // Written after the key: if we crash in between, the key (the thing that matters) is complete and the
  // public file is derived from it again by the next keygen; loadIdentity never reads identity.pub.
  await atomicWriteFile(join(homeDir, IDENTITY_PUB_FILE), `${formatFerryId(keyPair.publicKey)}\n`, {
    mode: 0o644,
    signal,
  });
  return keyPair;
}

/**
 * Loads this host's identity from `identity.key`. Refuses, like OpenSSH's "UNPROTECTED PRIVATE KEY FILE",
 * a key file with any group or other permission bit (KEY_FILE_INSECURE): a key others could read must be
 * assumed stolen; a key file another user owns, or in a directory not the user's own, is HOME_UNSAFE (its
 * owner could swap the key at any time). Missing is KEY_NOT_FOUND; anything but an unencrypted X25519 PKCS#8
 * key is KEY_FILE_INVALID. The file's bytes are read into one Buffer, imported, and zeroed.
 */
export async function loadIdentity(
  homeDir: string,
  options: { signal?: AbortSignal } = {},
): Promise<KeyPair> {
  return loadKeyFile(join(homeDir, IDENTITY_KEY_FILE), options);
}

/**
 * Writes `keyPair`'s private key as PKCS#8 PEM to `keyPath`, mode 0600: created with O_EXCL (KEY_EXISTS if
 * the file exists), or replaced atomically with `replace`. For keys other than the identity (a server's next
 * key, PROTOCOL.md §13).
 */
export async function writeKeyFile(
  keyPath: string,
  keyPair: KeyPair,
  options: { replace?: boolean; signal?: AbortSignal } = {},
): Promise<void> {
  const pem = encodePrivateKeyPem(keyPair.privateKey);
  try {
    if (options.replace) await atomicWriteFile(keyPath, pem, { mode: 0o600, signal: options.signal });
    else await writeNewKeyFile(keyPath, pem, options.signal);
  } finally {
    pem.fill(0);
  }
}

/** Loads an X25519 private key file with the checks of {@link loadIdentity}. */
export async function loadKeyFile(keyPath: string, options: { signal?: AbortSignal } = {}): Promise<KeyPair> {
  const { signal } = options;
  signal?.throwIfAborted();
  let handle;
  try {
    handle = await open(keyPath, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FerryError('KEY_NOT_FOUND', `${keyPath} does not exist`, { cause: err });
    }
    throw err;
  }
  let bytes: Buffer;
  try {
    // fstat on the open handle, so the mode we check is the mode of the file we read.
    const stats = await handle.stat();
    if (!stats.isFile()) throw new FerryError('KEY_FILE_INVALID', `${keyPath} is not a regular file`);
    if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
      const mode = `0${(stats.mode & 0o777).toString(8)}`;
      throw new FerryError(
        'KEY_FILE_INSECURE',
        `permissions ${mode} for ${keyPath} are too open; run \`chmod 600 ${keyPath}\``,
      );
    }
    refuseUnlessOwnedByUs(stats, keyPath);
    await refuseUnlessHomeDirOurs(keyPath);
    if (stats.size > MAX_KEY_FILE_BYTES) {
      throw new FerryError('KEY_FILE_INVALID', `${keyPath} is ${stats.size} bytes, too big for a key file`);
    }
    bytes = await readExactly(handle, stats.size, signal);
  } finally {
    await handle.close();
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: bytes, format: 'pem' });
  } catch (err) {
    // OpenSSL's message is kept as the cause only; it never contains key bytes, but it says nothing useful.
    throw new FerryError('KEY_FILE_INVALID', `${keyPath} is not an unencrypted PEM private key`, {
      cause: err,
    });
  } finally {
    bytes.fill(0);
  }
  if (privateKey.asymmetricKeyType !== 'x25519') {
    throw new FerryError(
      'KEY_FILE_INVALID',
      `${keyPath} holds a ${privateKey.asymmetricKeyType ?? 'unknown'} key, ferry needs x25519`,
    );
  }
  return new KeyPair(privateKey);
}

/**
 * Loads the identity, creating one first when the home has none (the `npm start` path). `created` tells the
 * caller to show the new ferry ID. A concurrent creator winning the race is fine: its key is loaded.
 */
export async function loadOrCreateIdentity(
  homeDir: string,
  options: { signal?: AbortSignal } = {},
): Promise<{ keyPair: KeyPair; created: boolean }> {
  try {
    return { keyPair: await loadIdentity(homeDir, options), created: false };
  } catch (err) {
    if (!isFerryError(err, 'KEY_NOT_FOUND')) throw err;
  }
  try {
    return { keyPair: await createIdentity(homeDir, options), created: true };
  } catch (err) {
    if (!isFerryError(err, 'KEY_EXISTS')) throw err;
    return { keyPair: await loadIdentity(homeDir, options), created: false };
  }
}

async function writeNewKeyFile(
  keyPath: string,
  pem: Uint8Array,
  signal: AbortSignal | undefined,
): Promise<void> {
  let handle;
  try {
    handle = await open(keyPath, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new FerryError(
        'KEY_EXISTS',
        `${keyPath} exists; pass --force to replace it (the old key is lost)`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
  let complete = false;
  try {
    await handle.writeFile(pem, { signal });
    await handle.sync();
    complete = true;
  } finally {
    await handle.close();
    // A half-written key would block the next keygen with KEY_EXISTS and fail every load: remove it.
    if (!complete) await unlink(keyPath).catch(() => undefined);
  }
}

async function readExactly(
  handle: Awaited<ReturnType<typeof open>>,
  size: number,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  // One buffer of the final size: readFile() would grow through intermediate copies nobody zeroes.
  const bytes = Buffer.alloc(size);
  let offset = 0;
  try {
    while (offset < size) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(bytes, offset, size - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
  } catch (err) {
    bytes.fill(0);
    throw err;
  }
  return offset === size ? bytes : bytes.subarray(0, offset);
}

const BASE64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'ascii');
const PEM_HEADER = Buffer.from('-----BEGIN PRIVATE KEY-----\n', 'ascii');
const PEM_FOOTER = Buffer.from('-----END PRIVATE KEY-----\n', 'ascii');
const PEM_LINE_CHARS = 64;

/**
 * PKCS#8 PEM of a private key, built in a Buffer: `KeyObject.export({ format: 'pem' })` and
 * `Buffer.toString('base64')` would both put the secret in an immutable JS string we can never wipe.
 */
function encodePrivateKeyPem(privateKey: KeyObject): Buffer {
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  try {
    const base64Chars = 4 * Math.ceil(der.length / 3);
    const lineBreaks = Math.ceil(base64Chars / PEM_LINE_CHARS);
    const pem = Buffer.alloc(PEM_HEADER.length + base64Chars + lineBreaks + PEM_FOOTER.length);
    let at = PEM_HEADER.copy(pem, 0);
    let lineChars = 0;
    const put = (char: number): void => {
      pem[at++] = char;
      if (++lineChars === PEM_LINE_CHARS) {
        pem[at++] = 0x0a;
        lineChars = 0;
      }
    };
    for (let i = 0; i < der.length; i += 3) {
      const b0 = der[i] ?? 0;
      const b1 = der[i + 1] ?? 0;
      const b2 = der[i + 2] ?? 0;
      put(BASE64[b0 >> 2] ?? 0);
      put(BASE64[((b0 & 3) << 4) | (b1 >> 4)] ?? 0);
      put(i + 1 < der.length ? (BASE64[((b1 & 15) << 2) | (b2 >> 6)] ?? 0) : 0x3d);
      put(i + 2 < der.length ? (BASE64[b2 & 63] ?? 0) : 0x3d);
    }
    if (lineChars > 0) pem[at++] = 0x0a;
    PEM_FOOTER.copy(pem, at);
    return pem;
  } finally {
    der.fill(0);
  }
}
