import type { PutOfferMessage } from '../protocol/index.js';
import type { SessionIo } from './session-io.js';
import { STORE_REQUESTS } from './store-heads.js';

/**
 * PROTOCOL.md §5.3 REPLACE_DIR on an object store: the directory a file replaces is the prefix of the keys
 * below its name, so they go once the object is placed (an upload that fails first leaves them), one key at
 * a time as REMOVE_REQUESTs would, each paid as one is (STORE_REQUESTS), the listing as a stat, a LIST page at
 * a time (ObjectTree.removeBelow): nothing is collected.
 */
export async function removeKeysBelow(io: SessionIo, offer: PutOfferMessage): Promise<void> {
  const objects = io.objectStore!;
  const relative = io.rooted(offer.path).join('/');
  await io.ctx.storeHeads.spend(io.clientKey, STORE_REQUESTS.stat, io.stopped);
  // A page at a time, never collected: a directory of any size holds one LIST page in memory.
  await objects.removeBelow(relative, () =>
    io.ctx.storeHeads.spend(io.clientKey, STORE_REQUESTS.remove, io.stopped),
  );
}
