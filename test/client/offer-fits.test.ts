// A GET_OFFER's size is the server's: checkOfferFits refuses one the client cannot take with a code the
// other side's fault is reported by (MESSAGE_MALFORMED past the chunk table's bound), never as ferry's own
// mistake. The delta download fuzz found an offer of 2^48 bytes failing INTERNAL:
// counting its chunks refused more than 2^32 as an internal error before the bound was checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { checkOfferFits } from '../../src/client/offer-fits.js';
import { LEAF_BYTES, MAX_TRANSFER_CHUNKS } from '../../src/protocol/index.js';

const layout = { chunkBytes: LEAF_BYTES, dir: tmpdir(), heldBytes: 0 };

test('an offer past the chunk table bound is MESSAGE_MALFORMED, however large its size', async () => {
  for (const size of [(MAX_TRANSFER_CHUNKS + 1) * LEAF_BYTES, 2 ** 48 + 12345, Number.MAX_SAFE_INTEGER])
    await assert.rejects(checkOfferFits({ size }, layout), { code: 'MESSAGE_MALFORMED' }, `size ${size}`);
});
