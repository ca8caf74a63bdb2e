import { FerryError } from '../errors/index.js';
import { listEntryBytes, type ListEntry } from '../protocol/index.js';
import { ListingTally } from '../machines/index.js';
import { PartMemory } from './part-memory.js';

/**
 * What one collected entry of an object-store listing takes of the heap beyond its encoded bytes: the
 * entry's object, its path's string header, its slot in the listing's Map and sort array. Measured on Node 20
 * at 200 to 300 bytes for entries of 30-byte paths (the page's HEAD list included); 256 is counted.
 */
export const HELD_ENTRY_OVERHEAD_BYTES = 256;

/**
 * Bytes the object-store listings of one client may hold at once, over all its sessions: one listing at the
 * protocol's limits (MAX_LIST_BYTES encoded, plus MAX_LIST_ENTRIES times the overhead above, 372 MiB).
 */
export const LISTING_MEMORY_PER_CLIENT_BYTES = 384 * 1024 * 1024;
/** Bytes all object-store listings may hold at once. */
export const LISTING_MEMORY_TOTAL_BYTES = 1024 * 1024 * 1024;

/** The defaults of `ServeOptions.listingMemory`. */
export const LISTING_MEMORY = Object.freeze({
  perClientBytes: LISTING_MEMORY_PER_CLIENT_BYTES,
  totalBytes: LISTING_MEMORY_TOTAL_BYTES,
});

/**
 * An object-store listing's count of what it holds while it collects its entries (S3 lists keys in byte
 * order, not tree order, so a listing is collected whole before it is sorted and sent; a disk listing
 * streams). Each entry is counted by the listing's own limits as it is collected (MAX_LIST_ENTRIES and
 * MAX_LIST_BYTES: FILE_TOO_LARGE, as a disk listing's send refuses them) and taken from the server's listing
 * memory (`memory`: per client and in total): past it SERVER_BUSY, retryable, at once and without waiting, so
 * no listing waits on another. `release` gives all back; call it once the listing is sent or failed.
 */
export function heldListing(
  listingMemory: PartMemory | undefined,
  client: Buffer,
): { hold(entry: ListEntry): void; release(): void } {
  // A context built without one (tests of other parts): this listing's own share of the defaults.
  const memory = listingMemory ?? new PartMemory(LISTING_MEMORY);
  const share = memory.hold(client.toString('hex'), 0);
  const tally = new ListingTally('FILE_TOO_LARGE');
  return {
    hold(entry) {
      tally.add(entry);
      const bytes = listEntryBytes(entry) + HELD_ENTRY_OVERHEAD_BYTES;
      if (!share.grow(bytes))
        throw new FerryError(
          'SERVER_BUSY',
          `listing memory is at its limit after ${tally.entries - 1} entries (${memory.heldBytes} bytes held by listings)`,
        );
    },
    release: () => share.release(),
  };
}
