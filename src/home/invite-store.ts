import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  generatePairingCode,
  INVITE_ID_CHARS,
  isInviteId,
  isPairingSecret,
  PAIRING_SECRET_BITS,
  PAIRING_SECRET_BYTES,
} from '../crypto/pairing-code.js';
import { FerryError } from '../errors/index.js';
import { PERMISSIONS, type Permission } from './permissions.js';
import { atomicWriteFile } from './atomic-write-file.js';
import { checkName, checkPermissions, invalidField, isPlainObject } from './config-fields.js';
import { withFileLock } from './file-lock.js';
import { ensureHomeDir } from './home-dir.js';
import { readConfigFile } from './read-config-file.js';

/**
 * The server's one-time pairing invites (PROTOCOL.md §12.7), in `<home>/invites.json`:
 *
 *   { "version": 1, "invites": [ { "id": "kq4m7", "secret": "<8 hex digits>", "name": "...",
 *     "permissions": ["upload"], "createdAt": "...", "expiresAt": "..." } ] }
 *
 * The secret has to be kept to run CPace, so **this file is as sensitive as the identity key** while an
 * invite lives: it is written 0600, atomically, and expired invites are dropped on every write. Every
 * read-modify-write holds an in-process queue and a lock file (`invites.json.lock`), so a `ferry invite` and
 * a running `ferry serve` never lose each other's changes and two sessions never both consume one invite.
 */

/** File name of the invite store inside the home directory. */
export const INVITES_FILE = 'invites.json';
/** How long an invite lives unless told otherwise. */
export const DEFAULT_INVITE_TTL_MS = 10 * 60 * 1000;
/** The longest an invite may live. */
export const MAX_INVITE_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** At most this many live invites: bounds the file and the odds of guessing a live invite id (§12.5). */
export const MAX_LIVE_INVITES = 100;

const FILE_VERSION = 1;
const ENTRY_KEYS = new Set(['id', 'secret', 'name', 'permissions', 'createdAt', 'expiresAt']);
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SECRET_HEX = new RegExp(`^[0-9a-f]{${PAIRING_SECRET_BYTES * 2}}$`);

/** An invite as listed: everything but the secret. */
export interface InviteInfo {
  /** The public invite id: the first 5 characters of the code. */
  readonly id: string;
  /** A label for the client it is meant for; becomes the allow-list entry's name. */
  readonly name?: string;
  /** What the paired client may do; becomes the allow-list entry's permissions. */
  readonly permissions: readonly Permission[];
  /** ISO 8601, UTC. */
  readonly createdAt: string;
  /** ISO 8601, UTC. The invite is refused from this instant on. */
  readonly expiresAt: string;
}

/**
 * An invite taken out of the store by {@link consumeInvite}, with its secret: prints as `[redacted]`; the
 * caller zeroes the secret with `dispose()` once the pairing server has it.
 */
export class ConsumedInvite implements InviteInfo {
  readonly id: string;
  readonly name?: string;
  readonly permissions: readonly Permission[];
  readonly createdAt: string;
  readonly expiresAt: string;
  /** The 4 secret bytes of the code (30 bits; the CPace password input, PROTOCOL.md §12.2). */
  readonly secret: Buffer;

  /** @internal */
  constructor(info: InviteInfo, secret: Buffer) {
    this.id = info.id;
    if (info.name !== undefined) this.name = info.name;
    this.permissions = info.permissions;
    this.createdAt = info.createdAt;
    this.expiresAt = info.expiresAt;
    this.secret = secret;
  }

  /** Zeroes the secret. Idempotent. */
  dispose(): void {
    this.secret.fill(0);
  }

  [inspect.custom](): string {
    return `ConsumedInvite ${this.id} [redacted]`;
  }

  toJSON(): InviteInfo {
    return publicView(this);
  }
}

/** Options for {@link createInvite}. */
export interface CreateInviteOptions {
  name?: string;
  /** Lifetime in milliseconds: 1 ms to 7 days; 10 minutes when not given. */
  ttlMs?: number;
  /** What the paired client may do; both when not given (as for `ferry allow`). */
  permissions?: readonly Permission[];
  /** The clock, injected by tests. */
  now?: () => Date;
  /** The random source for the code, injected by tests. */
  random?: (bytes: number) => Uint8Array;
  signal?: AbortSignal;
}

/** Options for the store's other functions. */
export interface InviteStoreOptions {
  /** The clock, injected by tests. */
  now?: () => Date;
  signal?: AbortSignal;
}

interface StoredInvite extends InviteInfo {
  readonly secret: string;
}

/**
 * One invite as stored, secret included (hex): the entry of `invites.json`, and the value a cluster keeps
 * in etcd (src/server/etcd-invite-store.ts). As sensitive as the identity key while it lives.
 */
export type InviteRecord = StoredInvite;

/**
 * A new invite record and its code, by the same rules as {@link createInvite} (options checked, a fresh
 * code whose id `inviteIdTaken` does not refuse), for a store other than the home's file. The caller
 * shows `code` once and keeps only the record.
 */
export function newInviteRecord(
  options: Omit<CreateInviteOptions, 'signal'>,
  inviteIdTaken: (id: string) => boolean,
): { record: InviteRecord; code: string } {
  const ttlMs = checkTtl(options.ttlMs ?? DEFAULT_INVITE_TTL_MS);
  const permissions = checkPermissions(options.permissions ?? PERMISSIONS, 'usage');
  const name = options.name === undefined ? undefined : checkName(options.name, 'usage');
  const now = (options.now ?? (() => new Date()))();
  const code = generatePairingCode({
    ...(options.random === undefined ? {} : { random: options.random }),
    inviteIdTaken,
  });
  try {
    const record = buildEntry({
      id: code.inviteId,
      secret: code.secret.toString('hex'),
      name,
      permissions,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
    });
    return { record, code: code.format() };
  } finally {
    code.dispose();
  }
}

/** Validates one stored invite read from elsewhere (etcd) as strictly as the file's entries. */
export function inviteRecordFromJson(json: unknown, where: string): InviteRecord {
  return validateInvites({ version: FILE_VERSION, invites: [json] }, where)[0]!;
}

/** The record as a {@link ConsumedInvite} (its secret as bytes, for the pairing server). */
export function consumedInviteOf(record: InviteRecord): ConsumedInvite {
  return new ConsumedInvite(publicView(record), Buffer.from(record.secret, 'hex'));
}

/** The record without its secret, as listed. */
export function inviteInfoOf(record: InviteRecord): InviteInfo {
  return publicView(record);
}

/** Whether an invite is refused at `now` (from its `expiresAt` on). */
export function isInviteExpired(invite: InviteInfo, now: Date): boolean {
  return isExpired(invite, now);
}

/**
 * Creates an invite and returns its code (to show to the operator once: it is not stored in this form),
 * its id and its expiry. USAGE_INVALID for bad options or when {@link MAX_LIVE_INVITES} are live.
 */
export async function createInvite(
  homeDir: string,
  options: CreateInviteOptions = {},
): Promise<{ code: string; id: string; expiresAt: string }> {
  const { signal, ...recordOptions } = options;
  checkTtl(options.ttlMs ?? DEFAULT_INVITE_TTL_MS);
  checkPermissions(options.permissions ?? PERMISSIONS, 'usage');
  if (options.name !== undefined) checkName(options.name, 'usage');
  const now = (options.now ?? (() => new Date()))();
  await ensureHomeDir(homeDir, { signal });
  return withFileLock(invitesPath(homeDir), signal, async () => {
    const live = (await readInvites(homeDir, signal)).filter((invite) => !isExpired(invite, now));
    if (live.length >= MAX_LIVE_INVITES) {
      throw new FerryError(
        'USAGE_INVALID',
        `${live.length} invites are open, the most allowed; revoke some or let them expire`,
      );
    }
    const liveIds = new Set(live.map((invite) => invite.id));
    const { record, code } = newInviteRecord({ ...recordOptions, now: () => now }, (id) => liveIds.has(id));
    await writeInvites(homeDir, [...live, record], signal);
    return { code, id: record.id, expiresAt: record.expiresAt };
  });
}

/**
 * Takes the invite `inviteId` out of the store, atomically: the file no longer lists it when this returns,
 * so an invite is used at most once (PROTOCOL.md §12.5 step 3) whatever the pairing's outcome. An unknown id
 * is INVITE_INVALID; an expired one is removed too and is INVITE_EXPIRED. The server runs the pairing with
 * a random stand-in secret in both cases (see `PairingServer`), so the client cannot tell them apart.
 */
export async function consumeInvite(
  homeDir: string,
  inviteId: string,
  options: InviteStoreOptions = {},
): Promise<ConsumedInvite> {
  const { signal } = options;
  const now = (options.now ?? (() => new Date()))();
  return withFileLock(invitesPath(homeDir), signal, async () => {
    const all = await readInvites(homeDir, signal);
    const found = all.find((invite) => invite.id === inviteId);
    const kept = all.filter((invite) => invite.id !== inviteId && !isExpired(invite, now));
    if (kept.length !== all.length) await writeInvites(homeDir, kept, signal);
    if (found === undefined) throw new FerryError('INVITE_INVALID', `no invite ${JSON.stringify(inviteId)}`);
    if (isExpired(found, now)) {
      throw new FerryError('INVITE_EXPIRED', `invite ${found.id} expired at ${found.expiresAt}`);
    }
    return new ConsumedInvite(publicView(found), Buffer.from(found.secret, 'hex'));
  });
}

/** The live invites (expired ones are left out), without their secrets, in creation order. */
export async function listInvites(homeDir: string, options: InviteStoreOptions = {}): Promise<InviteInfo[]> {
  const now = (options.now ?? (() => new Date()))();
  const all = await readInvites(homeDir, options.signal);
  return all.filter((invite) => !isExpired(invite, now)).map(publicView);
}

/** Removes a live invite; false when there was none with that id (nothing is written then). */
export async function revokeInvite(
  homeDir: string,
  inviteId: string,
  options: InviteStoreOptions = {},
): Promise<boolean> {
  const { signal } = options;
  const now = (options.now ?? (() => new Date()))();
  return withFileLock(invitesPath(homeDir), signal, async () => {
    const all = await readInvites(homeDir, signal);
    const found = all.find((invite) => invite.id === inviteId && !isExpired(invite, now));
    const kept = all.filter((invite) => invite.id !== inviteId && !isExpired(invite, now));
    if (kept.length !== all.length) await writeInvites(homeDir, kept, signal);
    return found !== undefined;
  });
}

/** The path of the invite store in a home directory. */
export function invitesPath(homeDir: string): string {
  return join(homeDir, INVITES_FILE);
}

function isExpired(invite: InviteInfo, now: Date): boolean {
  return Date.parse(invite.expiresAt) <= now.getTime();
}

function publicView(invite: InviteInfo): InviteInfo {
  return {
    id: invite.id,
    ...(invite.name === undefined ? {} : { name: invite.name }),
    permissions: invite.permissions,
    createdAt: invite.createdAt,
    expiresAt: invite.expiresAt,
  };
}

async function readInvites(homeDir: string, signal: AbortSignal | undefined): Promise<StoredInvite[]> {
  const path = invitesPath(homeDir);
  const read = await readConfigFile(path, signal === undefined ? {} : { signal });
  return read.status === 'read' ? validateInvites(read.json, path) : [];
}

async function writeInvites(
  homeDir: string,
  invites: readonly StoredInvite[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const text = `${JSON.stringify({ version: FILE_VERSION, invites }, null, 2)}\n`;
  await atomicWriteFile(invitesPath(homeDir), text, {
    mode: 0o600,
    ...(signal === undefined ? {} : { signal }),
  });
}

function buildEntry(entry: {
  id: string;
  secret: string;
  name: string | undefined;
  permissions: readonly Permission[];
  createdAt: string;
  expiresAt: string;
}): StoredInvite {
  return {
    id: entry.id,
    secret: entry.secret,
    ...(entry.name === undefined ? {} : { name: entry.name }),
    permissions: PERMISSIONS.filter((p) => entry.permissions.includes(p)),
    createdAt: entry.createdAt,
    expiresAt: entry.expiresAt,
  };
}

/** Strict validation, like the allow-list's: every field, no unknown keys, no duplicate ids. */
function validateInvites(json: unknown, path: string): StoredInvite[] {
  const fail = (what: string): never => {
    throw new FerryError('CONFIG_INVALID', `${path}: ${what}`);
  };
  if (!isPlainObject(json)) return fail('expected an object { "version": 1, "invites": [...] }');
  for (const key of Object.keys(json))
    if (key !== 'version' && key !== 'invites') fail(`unknown key ${JSON.stringify(key)}`);
  if (json['version'] !== FILE_VERSION)
    fail(`version must be ${FILE_VERSION}, got ${JSON.stringify(json['version'])}`);
  const entries = json['invites'];
  if (!Array.isArray(entries)) return fail('invites must be an array');
  const seen = new Set<string>();
  return entries.map((entry: unknown, i): StoredInvite => {
    const at = `invites[${i}]`;
    if (!isPlainObject(entry)) return fail(`${at} must be an object`);
    for (const key of Object.keys(entry))
      if (!ENTRY_KEYS.has(key)) fail(`${at} has unknown key ${JSON.stringify(key)}`);
    const { id, secret, name, permissions, createdAt, expiresAt } = entry;
    if (typeof id !== 'string' || !isInviteId(id))
      return fail(`${at}.id must be ${INVITE_ID_CHARS} characters of a-z 2-7`);
    if (seen.has(id)) fail(`${at}.id ${JSON.stringify(id)} is listed twice`);
    seen.add(id);
    // Never echo the secret, not even a malformed one.
    if (
      typeof secret !== 'string' ||
      !SECRET_HEX.test(secret) ||
      !isPairingSecret(Buffer.from(secret, 'hex'))
    ) {
      return fail(
        `${at}.secret must be ${PAIRING_SECRET_BYTES * 2} lower-case hex digits holding ${PAIRING_SECRET_BITS} bits`,
      );
    }
    try {
      return buildEntry({
        id,
        secret,
        name: name === undefined ? undefined : checkName(name, 'config'),
        permissions: checkPermissions(permissions, 'config'),
        createdAt: checkTime(createdAt, 'createdAt'),
        expiresAt: checkTime(expiresAt, 'expiresAt'),
      });
    } catch (err) {
      return fail(`${at}.${(err as Error).message}`);
    }
  });
}

// 'config': message prefixed with the field, rethrown with its place; 'usage': USAGE_INVALID to the caller.

function checkTtl(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > MAX_INVITE_TTL_MS) {
    return invalidField('usage', 'ttl', `must be 1 ms to 7 days, got ${ttlMs} ms`);
  }
  return ttlMs;
}

function checkTime(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ISO_UTC.test(value) || Number.isNaN(Date.parse(value))) {
    throw new Error(
      `${field} must be an ISO 8601 UTC time like "2024-05-01T12:00:00.000Z", got ${JSON.stringify(value)}`,
    );
  }
  return value;
}
