import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { formatFerryId } from '../crypto/ferry-id.js';
import { keyCommitment } from '../crypto/key-rotation.js';
import { generateKeyPair, type KeyPair } from '../crypto/x25519.js';
import { atomicWriteFile } from './atomic-write-file.js';
import { isPlainObject } from './config-fields.js';
import { withFileLock } from './file-lock.js';
import { ensureHomeDir } from './home-dir.js';
import { IDENTITY_KEY_FILE, IDENTITY_PUB_FILE, loadKeyFile, writeKeyFile } from './identity-store.js';
import { readConfigFile } from './read-config-file.js';

/**
 * A server's key rotation state (PROTOCOL.md §13), in its home:
 *
 *   key-rotation.json        { "version": 1, "next": "<hex>", "rotating": { "next": "<hex>" } }   (public)
 *   identity.rotating.key    the new key while a rotation is under way (PKCS#8 PEM, 0600)
 *
 * `next` is SHA-256 of the next public key, announced with KEY_COMMIT; its private key is NOT here: `ferry key
 * prepare` writes it to a file the operator keeps offline. `ferry key rotate` brings it back (checked against
 * `next`), keeps it as identity.rotating.key, prepares the key after it (again written out for offline
 * keeping) and records that one's commitment as `rotating.next`; the server then proves the new key with
 * KEY_ROTATE while still handshaking with identity.key. `ferry key finish` makes the new key the identity.
 */

/** File name of the rotation state inside the home directory. */
export const KEY_ROTATION_FILE = 'key-rotation.json';
/** File name of the new key while a rotation is under way. */
export const ROTATING_KEY_FILE = 'identity.rotating.key';

const FILE_VERSION = 1;
const HEX_32 = /^[0-9a-f]{64}$/;

interface RotationState {
  next?: string | undefined;
  rotating?: { next: string } | undefined;
}

/** What a server announces (the shape of ServeOptions.keyRotation; home/ cannot import server/). */
export interface LoadedKeyRotation {
  readonly nextCommitment?: Buffer;
  readonly rotateTo?: { readonly identity: KeyPair; readonly nextCommitment: Buffer };
}

/** The rotation state of `homeDir` for `ferry serve`; undefined when no next key was ever prepared. */
export async function loadKeyRotation(
  homeDir: string,
  options: { signal?: AbortSignal } = {},
): Promise<LoadedKeyRotation | undefined> {
  const state = await readState(homeDir, options.signal);
  if (state.rotating) {
    const identity = await loadKeyFile(join(homeDir, ROTATING_KEY_FILE), options);
    return { rotateTo: { identity, nextCommitment: Buffer.from(state.rotating.next, 'hex') } };
  }
  return state.next === undefined ? undefined : { nextCommitment: Buffer.from(state.next, 'hex') };
}

/**
 * `ferry key prepare --out FILE`: draws the next key, writes its private key to `outPath` (created, 0600; the
 * operator moves it offline) and records its commitment. Refused while a rotation is under way.
 */
export async function prepareNextKey(
  homeDir: string,
  outPath: string,
  options: { signal?: AbortSignal } = {},
): Promise<{ commitment: Buffer; id: string }> {
  const { signal } = options;
  await ensureHomeDir(homeDir, { signal });
  return withFileLock(rotationPath(homeDir), signal, async () => {
    const state = await readState(homeDir, signal);
    if (state.rotating) throw underway();
    const next = generateKeyPair();
    await writeKeyFile(outPath, next, signal ? { signal } : {});
    const commitment = keyCommitment(next.publicKey);
    await writeState(homeDir, { next: commitment.toString('hex') }, signal);
    return { commitment, id: formatFerryId(next.publicKey) };
  });
}

/**
 * `ferry key rotate --next FILE --out FILE2`: loads the prepared next key from `nextKeyPath`, which must match
 * the recorded commitment (KEY_COMMITMENT_MISMATCH: USAGE_INVALID), keeps it as identity.rotating.key, draws
 * the key after it into `outPath` and records its commitment. The server proves the new key from its next
 * start on.
 */
export async function startKeyRotation(
  homeDir: string,
  paths: { nextKeyPath: string; outPath: string },
  options: { signal?: AbortSignal } = {},
): Promise<{ newId: string; nextCommitment: Buffer }> {
  const { signal } = options;
  return withFileLock(rotationPath(homeDir), signal, async () => {
    const state = await readState(homeDir, signal);
    if (state.rotating) throw underway();
    if (state.next === undefined)
      throw new FerryError('USAGE_INVALID', 'no next key was prepared here', {
        hint: 'run `ferry key prepare` first',
      });
    const newKey = await loadKeyFile(paths.nextKeyPath, signal ? { signal } : {});
    if (keyCommitment(newKey.publicKey).toString('hex') !== state.next) {
      throw new FerryError(
        'USAGE_INVALID',
        `${paths.nextKeyPath} is not the key this server committed to; clients would refuse it`,
      );
    }
    const after = generateKeyPair();
    await writeKeyFile(paths.outPath, after, signal ? { signal } : {});
    await writeKeyFile(join(homeDir, ROTATING_KEY_FILE), newKey, {
      replace: true,
      ...(signal ? { signal } : {}),
    });
    const nextCommitment = keyCommitment(after.publicKey);
    await writeState(
      homeDir,
      { next: state.next, rotating: { next: nextCommitment.toString('hex') } },
      signal,
    );
    return { newId: formatFerryId(newKey.publicKey), nextCommitment };
  });
}

/** `ferry key finish`: the rotating key becomes identity.key (atomically); its successor's commitment is next. */
export async function finishKeyRotation(
  homeDir: string,
  options: { signal?: AbortSignal } = {},
): Promise<{ id: string }> {
  const { signal } = options;
  return withFileLock(rotationPath(homeDir), signal, async () => {
    const state = await readState(homeDir, signal);
    if (!state.rotating)
      throw new FerryError('USAGE_INVALID', 'no rotation is under way (`ferry key rotate`)');
    const rotatingPath = join(homeDir, ROTATING_KEY_FILE);
    const newKey = await loadKeyFile(rotatingPath, signal ? { signal } : {});
    await writeKeyFile(join(homeDir, IDENTITY_KEY_FILE), newKey, {
      replace: true,
      ...(signal ? { signal } : {}),
    });
    const id = formatFerryId(newKey.publicKey);
    await atomicWriteFile(join(homeDir, IDENTITY_PUB_FILE), `${id}\n`, { mode: 0o644, signal });
    await writeState(homeDir, { next: state.rotating.next }, signal);
    await unlink(rotatingPath).catch(() => undefined);
    return { id };
  });
}

function underway(): FerryError {
  return new FerryError('USAGE_INVALID', 'a key rotation is under way', {
    hint: 'finish it first (`ferry key finish`)',
  });
}

function rotationPath(homeDir: string): string {
  return join(homeDir, KEY_ROTATION_FILE);
}

async function readState(homeDir: string, signal: AbortSignal | undefined): Promise<RotationState> {
  const path = rotationPath(homeDir);
  const read = await readConfigFile(path, signal ? { signal } : {});
  if (read.status !== 'read') return {};
  const json = read.json;
  const fail = (what: string): never => {
    throw new FerryError('CONFIG_INVALID', `${path}: ${what}`);
  };
  if (!isPlainObject(json) || json['version'] !== FILE_VERSION)
    return fail(`expected version ${FILE_VERSION}`);
  for (const key of Object.keys(json))
    if (key !== 'version' && key !== 'next' && key !== 'rotating') fail(`unknown key ${JSON.stringify(key)}`);
  const next = json['next'];
  if (next !== undefined && (typeof next !== 'string' || !HEX_32.test(next)))
    fail('next must be 64 lower-case hex digits');
  const rotating = json['rotating'];
  if (rotating !== undefined) {
    if (!isPlainObject(rotating) || typeof rotating['next'] !== 'string' || !HEX_32.test(rotating['next']))
      return fail('rotating.next must be 64 lower-case hex digits');
    return { next: next as string | undefined, rotating: { next: rotating['next'] } };
  }
  return { next: next as string | undefined };
}

async function writeState(
  homeDir: string,
  state: RotationState,
  signal: AbortSignal | undefined,
): Promise<void> {
  const text = `${JSON.stringify({ version: FILE_VERSION, ...state }, null, 2)}\n`;
  await atomicWriteFile(rotationPath(homeDir), text, { mode: 0o600, ...(signal ? { signal } : {}) });
}
