import { FerryError } from '../errors/index.js';
import { SERVER_DEFAULTS, type ServeOptions } from '../index.js';
import { formatByteSize, parseByteSize } from './parse-option.js';

/** A memory bound per client and in total, as `ServeOptions.partMemory` takes it. */
type MemoryBound = Required<NonNullable<ServeOptions['partMemory']>>;

/** One of the server's memory bounds per client and in total (`PartMemory`), as two `ferry serve` flags. */
interface MemoryFlags {
  /** The flag of the total, e.g. `--part-memory`; the per-client one adds `-per-client`. */
  readonly flag: string;
  readonly total: string | undefined;
  readonly perClient: string | undefined;
  readonly defaults: Readonly<MemoryBound>;
}

/**
 * A bound per client and in total from its two flags, each defaulting to SERVER_DEFAULTS. Refuses 0 (nothing
 * could ever be held, or, for downloads, nothing beyond each stream's first block: use a byte) and a
 * per-client bound above the total, which could never be reached.
 */
export function memoryFromFlags({ flag, total, perClient, defaults }: MemoryFlags): MemoryBound {
  const bound = (text: string | undefined, name: string, fallback: number): number => {
    if (text === undefined) return fallback;
    const bytes = parseByteSize(text);
    if (bytes < 1) throw new FerryError('USAGE_INVALID', `${name} takes 1 byte or more, got ${text}`);
    return bytes;
  };
  const totalBytes = bound(total, flag, defaults.totalBytes);
  const perClientBytes = bound(perClient, `${flag}-per-client`, defaults.perClientBytes);
  if (perClientBytes > totalBytes)
    throw new FerryError(
      'USAGE_INVALID',
      `${flag}-per-client ${formatByteSize(perClientBytes)} is more than ${flag} ${formatByteSize(totalBytes)}`,
    );
  return { perClientBytes, totalBytes };
}

/** `ferry serve`'s flags of the listing and download memory (stop 34's bounds, which only the library set). */
export interface ServeMemoryFlags {
  store?: string | undefined;
  listingMemory?: string | undefined;
  listingMemoryPerClient?: string | undefined;
  downloadMemory?: string | undefined;
  downloadMemoryPerClient?: string | undefined;
  uploadMemory?: string | undefined;
  uploadMemoryPerClient?: string | undefined;
}

/** The flags' help: what they bound and their defaults. */
export const SERVE_MEMORY_HELP = {
  listingTotal: `with --store: bytes all listings of the store may hold while they are collected and sorted (each entry's bytes + 256); a listing past it is refused with SERVER_BUSY, which clients retry (default ${formatByteSize(SERVER_DEFAULTS.listingMemory.totalBytes)})`,
  listingPerClient: `with --store: the same for one client key, over all its sessions (default ${formatByteSize(SERVER_DEFAULTS.listingMemory.perClientBytes)})`,
  downloadTotal: `bytes downloads encrypted on the server's threads may hold in blocks (about 2 MiB each) beyond each stream's first, all clients; past it a stream waits for its own blocks (default ${formatByteSize(SERVER_DEFAULTS.downloadMemory.totalBytes)}; unused with --threads 1)`,
  downloadPerClient: `the same for one client key, over all its sessions (default ${formatByteSize(SERVER_DEFAULTS.downloadMemory.perClientBytes)})`,
  uploadTotal: `bytes uploads may hold received and not yet written to disk, all clients; past it a session stops reading its socket until its own data is written (default ${formatByteSize(SERVER_DEFAULTS.uploadMemory.totalBytes)})`,
  uploadPerClient: `the same for one client key, over all its sessions (default ${formatByteSize(SERVER_DEFAULTS.uploadMemory.perClientBytes)})`,
};

/** `ServeOptions.listingMemory`, `downloadMemory` and `uploadMemory` from their flags; the listing's need `--store`. */
export function serveMemoryFromFlags(flags: ServeMemoryFlags): {
  listingMemory?: MemoryBound;
  downloadMemory: MemoryBound;
  uploadMemory: MemoryBound;
} {
  const listing = { total: flags.listingMemory, perClient: flags.listingMemoryPerClient };
  if (flags.store === undefined && (listing.total !== undefined || listing.perClient !== undefined))
    throw new FerryError('USAGE_INVALID', '--listing-memory[-per-client] need --store s3://BUCKET/PREFIX');
  const downloadMemory = memoryFromFlags({
    flag: '--download-memory',
    total: flags.downloadMemory,
    perClient: flags.downloadMemoryPerClient,
    defaults: SERVER_DEFAULTS.downloadMemory,
  });
  const uploadMemory = memoryFromFlags({
    flag: '--upload-memory',
    total: flags.uploadMemory,
    perClient: flags.uploadMemoryPerClient,
    defaults: SERVER_DEFAULTS.uploadMemory,
  });
  if (flags.store === undefined) return { downloadMemory, uploadMemory };
  return {
    listingMemory: memoryFromFlags({
      flag: '--listing-memory',
      ...listing,
      defaults: SERVER_DEFAULTS.listingMemory,
    }),
    downloadMemory,
    uploadMemory,
  };
}
