import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, utimes } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename, join } from 'node:path';
import { FerryError } from '../errors/index.js';
import {
  ChunkHashes,
  LEAF_BYTES,
  MAX_DELTA_BLOCKS,
  PROTOCOL_VERSION,
  deltaBlockBytesFor,
} from '../protocol/index.js';
import { openNoFollow } from './open-no-follow.js';
import { PARTIAL_IDENTITY_BYTES } from './chunk-log.js';

/** Bytes of all entries of one store together, by default: 64 MiB, the leaf hashes of ~114 GiB of files. */
export const KNOWN_LEAF_HASHES_MAX_BYTES = 64 * 1024 * 1024;

/** What an entry's file starts with: its kind and format, and the protocol version its hashes are of. */
const MAGIC = Buffer.from(`ferry-leaves-1-v${PROTOCOL_VERSION}`.padEnd(24, '\0'));
/** magic, place hash (32), identity, leaf count (u32), flags (u32). */
const HEADER_BYTES = MAGIC.length + 32 + PARTIAL_IDENTITY_BYTES + 8;
/** Flags bit 0: the leaves' weak checksums (§5.15) follow their hashes. */
const HAS_WEAK = 1;
const CHECKSUM_BYTES = 32;
/** An entry's name: 40 hex digits of its place's hash, never a name from a peer. */
const ENTRY_NAME = /^[0-9a-f]{40}\.leaves$/;
const TEMP_NAME = /^[0-9a-f]{40}\.leaves\.[0-9a-f]{16}\.tmp$/;
/** The directory is read again once this fraction of the bound was recorded since (see #evict). */
const RESCAN_FRACTION = 8;

/** The leaf hashes of one version of a file (PROTOCOL.md §7.2), and its leaves' weak checksums if known. */
export interface KnownLeaves {
  /** The file's identity (`SourceFile.identity`) these describe. */
  readonly identity: Buffer;
  /** Every leaf's hash (chunks of one leaf). */
  readonly hashes: ChunkHashes;
  /** Every leaf's weak checksum (§5.15), when a signing took them. */
  readonly weak: Uint32Array | undefined;
}

/** What a store did, for tests and benches: the reads that spared hashing a file, and the others. */
export interface KnownLeafHashesCounters {
  hits: number;
  misses: number;
  recorded: number;
  /** Reads of the whole store's directory (at the first record, then after each eighth of its bound recorded). */
  scans: number;
}

/**
 * Whether a file of `size` bytes is worth an entry: one a delta signs in leaves (from 16 MiB, PROTOCOL.md
 * §5.15.2) and at most MAX_DELTA_BLOCKS leaves (16 GiB), the per-entry bound (9.4 MiB). Smaller files are
 * signed in smaller blocks, which the leaf hashes do not give, and cost little to hash anyway.
 */
export function worthKnowing(size: number): boolean {
  return deltaBlockBytesFor(size) === LEAF_BYTES && Math.ceil(size / LEAF_BYTES) <= MAX_DELTA_BLOCKS;
}

/**
 * A persisted store of leaf hashes bound to file identity (issue 16, WARM deltas): what ferry knows of a file
 * it verified (its receiver gave it its final name) or signed whole, so that a later delta against the same
 * version of it takes its signature from here instead of reading and hashing it again. One entry per place
 * (a file's absolute path, hashed into the entry's name: a path from the peer never names a file here), each
 * holding the file's identity (device, inode, size, mtime and ctime in ns: any write moves the ctime, which no
 * one can set back), the leaf hashes and, once a signing took them, the weak checksums, with a SHA-256 over
 * all of it and its place, so a torn, truncated or foreign file reads as a miss.
 *
 * A cache, never a proof on its own: an entry is used only while the identity of the file the caller opened
 * (fstat of that descriptor) equals the one stored, and the caller checks the identity again after the last
 * byte it relies on was read (docs/SECURITY.md "Known leaf hashes"). Written atomically (a temporary, then
 * rename; no fsync: a lost entry is a miss). Bounded: an entry holds at most MAX_DELTA_BLOCKS leaves, and all
 * entries together at most `maxBytes`, the least recently used removed first. Never follows a link: entries
 * are opened with O_NOFOLLOW in a directory made by this store (0700).
 */
export class KnownLeafHashes {
  readonly dir: string;
  readonly maxBytes: number;
  readonly counters: KnownLeafHashesCounters = { hits: 0, misses: 0, recorded: 0, scans: 0 };
  /** Records (and their evictions) one after another, so two never count the directory at once. */
  #writing: Promise<void> = Promise.resolve();
  #made: Promise<void> | undefined;
  /**
   * The entries as this process knows them (see #evict), name to bytes, least recently used first (a Map
   * iterates in insertion order, and a use moves its entry to the end); undefined before the first scan.
   */
  #entries: Map<string, number> | undefined;
  #total = 0;
  /** Bytes recorded since the directory was last read. */
  #sinceScan = 0;

  /** The one store of `dir` in this process (records to one directory go one after another). */
  static at(dir: string): KnownLeafHashes {
    let store = SHARED.get(dir);
    if (store === undefined) SHARED.set(dir, (store = new KnownLeafHashes(dir)));
    return store;
  }

  /** A store in `dir` (made on first record, 0700) of at most `maxBytes` in all. */
  constructor(dir: string, options: { maxBytes?: number | undefined } = {}) {
    this.dir = dir;
    this.maxBytes = options.maxBytes ?? KNOWN_LEAF_HASHES_MAX_BYTES;
  }

  /**
   * The leaves known of the file at `place` whose identity is `identity` (of the descriptor the caller
   * opened), or undefined: no entry, an entry of another version, or one that fails its checksum (removed).
   */
  async find(place: string, identity: Buffer): Promise<KnownLeaves | undefined> {
    // A record still being written (a finish records in the background) is found.
    await this.#writing;
    const found = await this.#read(place).catch(() => undefined);
    if (found === undefined || !found.identity.equals(identity)) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    // Recently used: eviction takes the oldest modification time first.
    const now = new Date();
    const path = this.#pathOf(place);
    const bytes = this.#entries?.get(basename(path));
    if (bytes !== undefined) this.#note(basename(path), bytes);
    await utimes(path, now, now).catch(() => undefined);
    return found;
  }

  /**
   * Remembers that the file at `place`, of identity `identity`, has the leaf hashes `hashes` (every leaf
   * known) and, if given, the weak checksums `weak`. Files outside `worthKnowing` are not kept. Never throws:
   * a store that cannot be written is a store that misses.
   */
  async record(place: string, identity: Buffer, hashes: ChunkHashes, weak?: Uint32Array): Promise<void> {
    if (hashes.chunkBytes !== LEAF_BYTES || hashes.knownCount !== hashes.count || !worthKnowing(hashes.size))
      return;
    if (identity.length !== PARTIAL_IDENTITY_BYTES || identity.readBigUInt64BE(16) !== BigInt(hashes.size))
      return;
    if (weak !== undefined && weak.length !== hashes.count) return;
    const bytes = encodeEntry(placeHash(place), identity, hashes, weak);
    if (bytes.length > this.maxBytes) return;
    const write = this.#writing.then(() => this.#write(place, bytes));
    this.#writing = write.catch(() => undefined);
    await this.#writing;
  }

  /** Resolves once every record started so far is written (or failed). */
  async settled(): Promise<void> {
    await this.#writing;
  }

  /** Removes the entry of `place`, if any (its file is known to have changed). Never throws. */
  async forget(place: string): Promise<void> {
    this.#drop(basename(this.#pathOf(place)));
    await rm(this.#pathOf(place), { force: true }).catch(() => undefined);
  }

  async #write(place: string, bytes: Buffer): Promise<void> {
    await this.#ensureDir();
    const path = this.#pathOf(place);
    const temp = `${path}.${randomBytes(8).toString('hex')}.tmp`;
    const handle = await openNoFollow(temp, 'create', 0o600);
    try {
      await handle.writeFile(bytes);
    } catch (err) {
      await handle.close();
      await rm(temp, { force: true });
      throw err;
    }
    await handle.close();
    await rename(temp, path);
    this.counters.recorded++;
    this.#note(basename(path), bytes.length);
    this.#sinceScan += bytes.length;
    await this.#evict();
  }

  /**
   * Removes the least recently used entries (and stray temporaries) until the store is within its bound. The
   * directory is read only at the first record and again once an eighth of the bound was recorded since (then
   * what other processes wrote there counts too); in between, this process's own view is kept current. Reading
   * it at every record cost O(entries) file system calls per file received (~80 ms of CPU with a full store).
   */
  async #evict(): Promise<void> {
    if (this.#entries === undefined || this.#sinceScan >= this.maxBytes / RESCAN_FRACTION) await this.#scan();
    for (const name of [...this.#entries!.keys()]) {
      if (this.#total <= this.maxBytes) break;
      await rm(join(this.dir, name), { force: true });
      this.#drop(name);
    }
  }

  /** Reads the directory: every entry and stray temporary, by its size and time of last use (its mtime). */
  async #scan(): Promise<void> {
    this.counters.scans++;
    const files: Array<{ name: string; bytes: number; usedMs: number }> = [];
    for (const name of await readdir(this.dir)) {
      if (!ENTRY_NAME.test(name) && !TEMP_NAME.test(name)) continue;
      const st = await lstat(join(this.dir, name)).catch(() => undefined);
      if (st === undefined || !st.isFile()) continue;
      files.push({ name, bytes: st.size, usedMs: st.mtimeMs });
    }
    files.sort((a, b) => a.usedMs - b.usedMs);
    this.#entries = new Map();
    this.#total = 0;
    this.#sinceScan = 0;
    for (const file of files) this.#note(file.name, file.bytes);
  }

  /** Counts the entry `name` of `bytes` as the most recently used (written or found). */
  #note(name: string, bytes: number): void {
    if (this.#entries === undefined) return;
    this.#drop(name);
    this.#entries.set(name, bytes);
    this.#total += bytes;
  }

  #drop(name: string): void {
    const bytes = this.#entries?.get(name);
    if (bytes === undefined) return;
    this.#entries!.delete(name);
    this.#total -= bytes;
  }

  /** Makes the store's directory (0700), and refuses one that is a link. */
  async #ensureDir(): Promise<void> {
    this.#made ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const st = await lstat(this.dir);
      if (!st.isDirectory())
        throw new FerryError('PATH_ESCAPES_ROOT', 'the leaf hash store is not a directory');
    })();
    this.#made.catch(() => (this.#made = undefined));
    await this.#made;
  }

  async #read(place: string): Promise<KnownLeaves | undefined> {
    const path = this.#pathOf(place);
    let handle;
    try {
      handle = await openNoFollow(path, 'read');
    } catch {
      return undefined;
    }
    let bytes: Buffer;
    try {
      const st = await handle.stat();
      // An entry larger than any this store writes is foreign: not read into memory.
      if (st.size > HEADER_BYTES + MAX_DELTA_BLOCKS * 36 + CHECKSUM_BYTES) bytes = Buffer.alloc(0);
      else bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
    const decoded = decodeEntry(bytes, placeHash(place));
    if (decoded === undefined) {
      this.#drop(basename(path));
      await rm(path, { force: true }).catch(() => undefined);
    }
    return decoded;
  }

  #pathOf(place: string): string {
    return join(this.dir, `${placeHash(place).toString('hex').slice(0, 40)}.leaves`);
  }
}

const SHARED = new Map<string, KnownLeafHashes>();

/** The hash that names a place (an absolute path): an entry's name, and bound into its checksum. */
function placeHash(place: string): Buffer {
  return createHash('sha256').update('ferry-leaves\0').update(place).digest();
}

/** An entry's bytes (see KnownLeafHashes): header, leaf hashes, weak checksums if any, SHA-256 of it all. */
export function encodeEntry(
  place: Buffer,
  identity: Buffer,
  hashes: ChunkHashes,
  weak: Uint32Array | undefined,
): Buffer {
  const count = hashes.count;
  const body = HEADER_BYTES + count * 32 + (weak === undefined ? 0 : count * 4);
  const out = Buffer.alloc(body + CHECKSUM_BYTES);
  let at = MAGIC.copy(out, 0);
  at += place.copy(out, at);
  at += identity.copy(out, at);
  at = out.writeUInt32BE(count, at);
  at = out.writeUInt32BE(weak === undefined ? 0 : HAS_WEAK, at);
  // The table in one copy, not hash by hash: a 1 GiB file's entry is written as its signing ends (issue 16:
  // ~7 ms of the server's main thread for 16,384 leaves).
  at += hashes.copyTableTo(out, at);
  if (weak !== undefined) {
    // Big-endian on disk: the checksums copied whole and their bytes swapped on a little-endian machine,
    // not written one by one (16,384 writeUInt32BE calls, ~4 ms of a cold server's main thread).
    Buffer.from(weak.buffer, weak.byteOffset, weak.byteLength).copy(out, at);
    if (endianness() === 'LE') out.subarray(at, at + count * 4).swap32();
  }
  createHash('sha256').update(out.subarray(0, body)).digest().copy(out, body);
  return out;
}

/** The entry in `bytes` if it is whole, of this format and of `place`; undefined otherwise. */
export function decodeEntry(bytes: Buffer, place: Buffer): KnownLeaves | undefined {
  if (bytes.length < HEADER_BYTES + CHECKSUM_BYTES) return undefined;
  const body = bytes.length - CHECKSUM_BYTES;
  if (!createHash('sha256').update(bytes.subarray(0, body)).digest().equals(bytes.subarray(body)))
    return undefined;
  let at = 0;
  if (!bytes.subarray(at, (at += MAGIC.length)).equals(MAGIC)) return undefined;
  if (!bytes.subarray(at, (at += 32)).equals(place)) return undefined;
  const identity = Buffer.from(bytes.subarray(at, (at += PARTIAL_IDENTITY_BYTES)));
  const count = bytes.readUInt32BE(at);
  const flags = bytes.readUInt32BE(at + 4);
  at += 8;
  const size = Number(identity.readBigUInt64BE(16));
  if (!Number.isSafeInteger(size) || !worthKnowing(size) || Math.ceil(size / LEAF_BYTES) !== count)
    return undefined;
  if ((flags & ~HAS_WEAK) !== 0) return undefined;
  const withWeak = (flags & HAS_WEAK) !== 0;
  if (body !== HEADER_BYTES + count * 32 + (withWeak ? count * 4 : 0)) return undefined;
  const hashes = new ChunkHashes(size, LEAF_BYTES);
  for (let i = 0; i < count; i++, at += 32) hashes.set(i, bytes.subarray(at, at + 32));
  let weak: Uint32Array | undefined;
  if (withWeak) {
    weak = new Uint32Array(count);
    for (let i = 0; i < count; i++, at += 4) weak[i] = bytes.readUInt32BE(at);
  }
  return { identity, hashes, weak };
}
