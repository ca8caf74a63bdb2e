import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { formatFerryId, parseFerryId } from '../crypto/ferry-id.js';
import { atomicWriteFile } from './atomic-write-file.js';
import {
  checkName,
  checkPermissions,
  invalidField,
  isPlainObject,
  type FieldSource,
} from './config-fields.js';
import { withFileLock } from './file-lock.js';
import { ensureHomeDir } from './home-dir.js';
import { readConfigFile, type FileStamp } from './read-config-file.js';
import { PERMISSIONS, type Permission } from './permissions.js';

/** File name of the server's allow-list inside the home directory. */
export const ALLOW_LIST_FILE = 'allowed-clients.json';

export type { Permission } from './permissions.js';
const FILE_VERSION = 1;
const ENTRY_KEYS = new Set(['id', 'name', 'permissions', 'root', 'addedAt']);
// Exactly what Date#toISOString() writes, so a hand-edited date in any other shape is caught.
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** One client key on the allow-list, as stored in `allowed-clients.json`. */
export interface AllowedClient {
  /** The client's ferry ID, in its canonical dashed form. */
  readonly id: string;
  /** A label for humans (`alice-laptop`); never used for decisions. */
  readonly name?: string;
  readonly permissions: readonly Permission[];
  /**
   * A relative subdirectory of the server root this client is confined to ('/'-separated, no '.' or '..').
   * Only checked for shape here; the server's path resolver enforces the confinement.
   */
  readonly root?: string;
  /** When the key was first allowed (ISO 8601, UTC). */
  readonly addedAt: string;
}

/**
 * The server's allow-list of client keys: an immutable snapshot of `allowed-clients.json`. A missing file
 * is an empty list (nobody is allowed until `ferry allow`).
 */
export class AllowList {
  /** Every entry, in file order. */
  readonly clients: readonly AllowedClient[];
  /** Which version of the file this snapshot was read from (undefined when the file was missing). */
  readonly stamp: FileStamp | undefined;
  readonly #byKey: ReadonlyMap<string, AllowedClient>;

  private constructor(clients: readonly AllowedClient[], stamp: FileStamp | undefined) {
    this.clients = clients;
    this.stamp = stamp;
    this.#byKey = new Map(clients.map((client) => [parseFerryId(client.id).toString('hex'), client]));
  }

  /** Reads and strictly validates `<homeDir>/allowed-clients.json` (CONFIG_INVALID naming the problem). */
  static async load(homeDir: string, options: { signal?: AbortSignal } = {}): Promise<AllowList> {
    return AllowList.loadIfChanged(homeDir, undefined, options);
  }

  /** See {@link loadAllowListIfChanged}. */
  static async loadIfChanged(
    homeDir: string,
    previous: AllowList | undefined,
    options: { signal?: AbortSignal } = {},
  ): Promise<AllowList> {
    const path = allowListPath(homeDir);
    const read = await readConfigFile(path, { unlessStamp: previous?.stamp, signal: options.signal });
    switch (read.status) {
      case 'unchanged':
        return previous ?? new AllowList([], read.stamp);
      case 'missing':
        // A deleted file revokes everyone; the old snapshot is kept only when it already was the empty one.
        return previous !== undefined && previous.stamp === undefined
          ? previous
          : new AllowList([], undefined);
      case 'read':
        return new AllowList(validateAllowList(read.json, path), read.stamp);
    }
  }

  /**
   * An in-memory allow-list (library embedding, server tests). The entries are validated exactly like the
   * file's, so a snapshot never holds an entry the file could not.
   */
  static fromClients(clients: readonly AllowedClient[]): AllowList {
    return new AllowList(validateAllowList({ version: FILE_VERSION, clients }, '(in memory)'), undefined);
  }

  /** The entry for a client's 32-byte static public key, or undefined when the key is not allowed. */
  find(publicKey: Uint8Array): AllowedClient | undefined {
    return this.#byKey.get(
      Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex'),
    );
  }
}

/**
 * Re-reads the allow-list only when the file changed (inode, size, mtime or ctime differ from the ones
 * `previous` was read from): one fstat per call, so a running server can check it on every new session
 * and see `ferry allow` / `ferry revoke` without a restart. Returns `previous` itself when unchanged.
 */
export async function loadAllowListIfChanged(
  homeDir: string,
  previous: AllowList | undefined,
  options: { signal?: AbortSignal } = {},
): Promise<AllowList> {
  return AllowList.loadIfChanged(homeDir, previous, options);
}

/** Options for {@link AllowListWatcher}. */
export interface AllowListWatcherOptions {
  /** Check the file at most once per this many milliseconds; 0 (the default) checks on every call. */
  minCheckIntervalMs?: number;
  /** The clock, injected by tests. */
  now?: () => number;
}

/**
 * Keeps the current allow-list for a running server without timers or fs.watch: `current()` costs one
 * fstat and re-reads only after a change. A broken file fails closed: `current()` throws CONFIG_INVALID
 * (and keeps throwing until it is fixed) rather than keep serving a list the operator meant to change,
 * since that change may have been a revocation.
 */
export class AllowListWatcher {
  readonly homeDir: string;
  readonly #minCheckIntervalMs: number;
  readonly #now: () => number;
  #list: AllowList | undefined;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<AllowList> | undefined;

  constructor(homeDir: string, options: AllowListWatcherOptions = {}) {
    this.homeDir = homeDir;
    this.#minCheckIntervalMs = options.minCheckIntervalMs ?? 0;
    this.#now = options.now ?? Date.now;
  }

  /** The allow-list as the file says now (or as of at most `minCheckIntervalMs` ago). */
  async current(options: { signal?: AbortSignal } = {}): Promise<AllowList> {
    options.signal?.throwIfAborted();
    if (this.#list !== undefined && this.#now() - this.#checkedAt < this.#minCheckIntervalMs)
      return this.#list;
    // Sessions arriving together share one check instead of each stat-ing the file.
    this.#inFlight ??= this.#check().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #check(): Promise<AllowList> {
    const checkedAt = this.#now();
    const list = await loadAllowListIfChanged(this.homeDir, this.#list);
    this.#list = list;
    this.#checkedAt = checkedAt;
    return list;
  }
}

/** Options for {@link allowClient}. */
export interface AllowClientOptions {
  /** A label for humans; `null` removes an existing one, undefined keeps it. */
  name?: string | null;
  /** What the client may do; a new entry gets both, an existing entry keeps its own when undefined. */
  permissions?: readonly Permission[];
  /** Confine the client to this relative subdirectory; `null` removes the confinement, undefined keeps it. */
  root?: string | null;
  /** The clock for `addedAt`, injected by tests. */
  now?: () => Date;
  signal?: AbortSignal;
}

/**
 * The one rule for `ferry allow` and pairing, wherever the list lives (this file, or a cluster's etcd key):
 * `clients` with `id` added, or its entry updated (`added` tells which). Fields left undefined keep their
 * current value on an update, so re-running `ferry allow ID --name x` never silently widens a client's
 * permissions or lifts its root; `addedAt` is kept. Pure: validates the options, touches nothing.
 */
export function withClientAllowed(
  clients: readonly AllowedClient[],
  id: string,
  options: Omit<AllowClientOptions, 'signal'> = {},
): { clients: AllowedClient[]; client: AllowedClient; added: boolean } {
  const canonicalId = formatFerryId(parseFerryId(id));
  const name =
    options.name === undefined || options.name === null ? options.name : checkName(options.name, 'usage');
  const root =
    options.root === undefined || options.root === null ? options.root : checkRoot(options.root, 'usage');
  const permissions =
    options.permissions === undefined ? undefined : checkPermissions(options.permissions, 'usage');
  const next = [...clients];
  const index = next.findIndex((client) => client.id === canonicalId);
  const existing = next[index];
  const client = buildEntry({
    id: canonicalId,
    name: name === undefined ? existing?.name : (name ?? undefined),
    permissions: permissions ?? existing?.permissions ?? PERMISSIONS,
    root: root === undefined ? existing?.root : (root ?? undefined),
    addedAt: existing?.addedAt ?? (options.now ?? (() => new Date()))().toISOString(),
  });
  if (existing === undefined) next.push(client);
  else next[index] = client;
  return { clients: next, client, added: existing === undefined };
}

/** The one rule for `ferry revoke`, wherever the list lives: `clients` without `id` (`removed` tells if it was on). */
export function withoutClient(
  clients: readonly AllowedClient[],
  id: string,
): { clients: AllowedClient[]; removed: boolean } {
  const canonicalId = formatFerryId(parseFerryId(id));
  const kept = clients.filter((client) => client.id !== canonicalId);
  return { clients: kept, removed: kept.length !== clients.length };
}

/**
 * Adds a client key to the allow-list, or updates its entry (`added` tells which), by
 * {@link withClientAllowed}'s rule.
 */
export async function allowClient(
  homeDir: string,
  id: string,
  options: AllowClientOptions = {},
): Promise<{ client: AllowedClient; added: boolean }> {
  const { signal, ...change } = options;
  // Checked before the home is created or locked: a bad id or option writes nothing.
  withClientAllowed([], id, change);
  await ensureHomeDir(homeDir, { signal });
  // Under the lock: a concurrent `ferry revoke` (or a pairing) must not be lost, nor lose this change.
  return withFileLock(allowListPath(homeDir), signal, async () => {
    const current = (await AllowList.load(homeDir, { signal })).clients;
    const { clients, client, added } = withClientAllowed(current, id, change);
    await writeAllowList(homeDir, clients, signal);
    return { client, added };
  });
}

/** Removes a client key from the allow-list; false when it was not on it (nothing is written then). */
export async function revokeClient(
  homeDir: string,
  id: string,
  options: { signal?: AbortSignal } = {},
): Promise<boolean> {
  const { signal } = options;
  withoutClient([], id);
  return withFileLock(allowListPath(homeDir), signal, async () => {
    const { clients, removed } = withoutClient((await AllowList.load(homeDir, { signal })).clients, id);
    if (removed) await writeAllowList(homeDir, clients, signal);
    return removed;
  });
}

/** Every allowed client, in file order. */
export async function listAllowedClients(
  homeDir: string,
  options: { signal?: AbortSignal } = {},
): Promise<AllowedClient[]> {
  return [...(await AllowList.load(homeDir, options)).clients];
}

/** The path of the allow-list file in a home directory. */
export function allowListPath(homeDir: string): string {
  return join(homeDir, ALLOW_LIST_FILE);
}

async function writeAllowList(
  homeDir: string,
  clients: readonly AllowedClient[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const text = `${JSON.stringify({ version: FILE_VERSION, clients }, null, 2)}\n`;
  await atomicWriteFile(allowListPath(homeDir), text, { mode: 0o600, signal });
}

// Fixed key order and no undefined-valued keys, so the file reads the same after every write.
function buildEntry(entry: {
  id: string;
  name: string | undefined;
  permissions: readonly Permission[];
  root: string | undefined;
  addedAt: string;
}): AllowedClient {
  return {
    id: entry.id,
    ...(entry.name === undefined ? {} : { name: entry.name }),
    permissions: PERMISSIONS.filter((p) => entry.permissions.includes(p)),
    ...(entry.root === undefined ? {} : { root: entry.root }),
    addedAt: entry.addedAt,
  };
}

/**
 * Validates the parsed file by hand: every field, no unknown keys (a misspelt `permisions` must not
 * silently fall back to a default), no duplicate keys. Errors say where: `clients[2].permissions: ...`.
 */
function validateAllowList(json: unknown, path: string): AllowedClient[] {
  const fail = (what: string): never => {
    throw new FerryError('CONFIG_INVALID', `${path}: ${what}`);
  };
  if (!isPlainObject(json)) return fail('expected an object { "version": 1, "clients": [...] }');
  for (const key of Object.keys(json))
    if (key !== 'version' && key !== 'clients') fail(`unknown key ${JSON.stringify(key)}`);
  if (json['version'] !== FILE_VERSION)
    fail(`version must be ${FILE_VERSION}, got ${JSON.stringify(json['version'])}`);
  const entries = json['clients'];
  if (!Array.isArray(entries)) return fail('clients must be an array');
  const seen = new Map<string, number>();
  return entries.map((entry: unknown, i): AllowedClient => {
    const at = `clients[${i}]`;
    if (!isPlainObject(entry)) return fail(`${at} must be an object`);
    for (const key of Object.keys(entry))
      if (!ENTRY_KEYS.has(key)) fail(`${at} has unknown key ${JSON.stringify(key)}`);
    const { id, name, permissions, root, addedAt } = entry;
    if (typeof id !== 'string') return fail(`${at}.id must be a string`);
    let canonicalId: string;
    try {
      canonicalId = formatFerryId(parseFerryId(id));
    } catch (err) {
      return fail(`${at}.id: ${(err as Error).message}`);
    }
    const duplicateOf = seen.get(canonicalId);
    if (duplicateOf !== undefined) fail(`${at}.id is the same key as clients[${duplicateOf}].id`);
    seen.set(canonicalId, i);
    try {
      return buildEntry({
        id: canonicalId,
        name: name === undefined ? undefined : checkName(name, 'config'),
        permissions: checkPermissions(permissions, 'config'),
        root: root === undefined ? undefined : checkRoot(root, 'config'),
        addedAt: checkAddedAt(addedAt),
      });
    } catch (err) {
      return fail(`${at}.${(err as Error).message}`);
    }
  });
}

// The check* helpers serve both the file validator ('config': message prefixed with the field, rethrown
// with its place) and the API arguments ('usage': USAGE_INVALID straight to the caller).

function checkRoot(root: unknown, source: FieldSource): string {
  if (typeof root !== 'string') return invalidField(source, 'root', 'must be a string');
  // '/'-separated on every platform, so the same file means the same thing everywhere; '\' is refused
  // rather than guessed at. The server still resolves it safely; this only keeps nonsense out of the file.
  const segments = root.split('/');
  const ok =
    root.length > 0 &&
    !root.includes('\\') &&
    !root.includes('\0') &&
    !/^[A-Za-z]:/.test(root) &&
    segments.every((segment) => segment !== '' && segment !== '.' && segment !== '..');
  if (!ok) {
    return invalidField(
      source,
      'root',
      `${JSON.stringify(root)} must be a relative path like "photos/2024" (no '.', '..', empty segments or '\\')`,
    );
  }
  return root;
}

function checkAddedAt(addedAt: unknown): string {
  if (typeof addedAt !== 'string' || !ISO_UTC.test(addedAt) || Number.isNaN(Date.parse(addedAt))) {
    throw new Error(
      `addedAt must be an ISO 8601 UTC time like "2024-05-01T12:00:00.000Z", got ${JSON.stringify(addedAt)}`,
    );
  }
  return addedAt;
}
