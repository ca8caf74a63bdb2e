import { statfs } from 'node:fs/promises';
import { FerryError, formatBytes } from '../errors/index.js';
import { MAX_TRANSFER_CHUNKS } from '../protocol/index.js';

/**
 * Refuses a GET_OFFER (PROTOCOL.md §5.11.2) the client cannot take, before anything is made for it. A server
 * names the size of the file it offers, and the client's progress watchdog lets a server that then sends only
 * KEEPALIVE wait for as long as hashing that size may take (16 s per GiB, `progress-watchdog.ts`): an offer
 * beyond the disk would buy a hostile server hours of holding the client for a file that could never be
 * stored, and one of more than 2^20 chunks of the asked size (§10: an honest server refuses such a request
 * with FILE_TOO_LARGE, §6.4) a chunk table of any size. `heldBytes` are already in the partial beside the
 * destination in `dir` (a resume, a delta's reused leaves) and need no new room.
 */
export async function checkOfferFits(
  offer: { readonly size: number },
  layout: { readonly chunkBytes: number; readonly dir: string; readonly heldBytes: number },
): Promise<void> {
  // Not `chunkCount`: it takes a count past the protocol's 2^32 as this program's own mistake (INTERNAL), and
  // here the size is the server's (a fuzzed offer of 2^48 bytes failed the download uncoded).
  const count = Math.ceil(offer.size / layout.chunkBytes);
  if (count > MAX_TRANSFER_CHUNKS)
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `get_offer: ${count} chunks of ${layout.chunkBytes} bytes, limit ${MAX_TRANSFER_CHUNKS}`,
    );
  const needed = offer.size - layout.heldBytes;
  // A file system that cannot say (statfs refused) is not judged here: a write past its room fails anyway.
  const free = await statfs(layout.dir).then(
    (stats) => stats.bavail * stats.bsize,
    () => Infinity,
  );
  if (needed > free)
    throw new FerryError(
      'DISK_FULL',
      // Sizes as a person reads them (the CLI prints this line as it is), as every other size ferry shows.
      `the file is ${formatBytes(offer.size)}, ${formatBytes(needed)} still to come, ${formatBytes(free)} free here`,
    );
}
