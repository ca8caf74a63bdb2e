import {
  GET_FLAG_PATCH,
  GET_FLAG_SIGNATURE,
  GET_FLAG_STRIPED,
  GET_FLAG_VERIFY_ONLY,
  GET_OFFER_FLAG_HELD_ACCEPTED,
  GET_OFFER_FLAG_PATCHED,
  GET_OFFER_FLAG_SIGNATURE,
  GET_OFFER_FLAG_STRIPED,
  HASH_BYTES,
  MAX_PATCH_PIECES,
  MAX_PATH_BYTES,
} from './constants.js';
import {
  RANGE_BYTES,
  checkFlags,
  chunkCodec,
  dataCodec,
  endCodec,
  readRanges,
  startMessage,
  writeRanges,
  type MessageCodecTable,
} from './message-codec.js';
import { checkGetRequest, checkMode, checkRef } from './message-checks.js';
import type { BytePiece, GetRequestMessage } from './message-types.js';
import type { MessageReader } from './message-reader.js';

/** Bytes of one PATCH piece on the wire: `u64 offset`, `u32 length` (PROTOCOL.md §5.17.4). */
const PIECE_BYTES = 12;
import { encodeUtf8 } from './message-writer.js';

type GetType = 'GET_REQUEST' | 'GET_OFFER' | 'GET_DATA' | 'GET_CHUNK' | 'GET_END';

/** The codecs of the download messages (PROTOCOL.md §5.11): an upload with the roles swapped. */
export const GET_CODECS: MessageCodecTable<GetType> = {
  GET_REQUEST: {
    encode(message) {
      checkGetRequest(message);
      const path = encodeUtf8(message.path, 'get_request: path');
      const { ranges, stripe, patch } = message;
      const flags =
        (message.verifyOnly ? GET_FLAG_VERIFY_ONLY : 0) |
        (stripe ? GET_FLAG_STRIPED : 0) |
        (message.signature ? GET_FLAG_SIGNATURE : 0) |
        (patch ? GET_FLAG_PATCH : 0);
      const writer = startMessage(
        'GET_REQUEST',
        4 +
          4 +
          1 +
          8 +
          HASH_BYTES +
          2 +
          RANGE_BYTES * ranges.length +
          2 +
          path.length +
          (stripe ? 10 : 0) +
          (patch ? 2 + PIECE_BYTES * patch.length : 0),
      )
        .u32(message.ref, 'ref')
        .u32(message.chunkBytes, 'chunkBytes')
        .u8(flags, 'flags')
        .u64(message.heldSize, 'heldSize')
        .fixed(message.haveDigest, HASH_BYTES, 'haveDigest');
      writeRanges(writer, ranges).str(path, MAX_PATH_BYTES, 'path');
      // PROTOCOL.md §5.13.6: the stripe follows the path, present only with STRIPED.
      if (stripe)
        writer
          .u8(stripe.index, 'stripeIndex')
          .u8(stripe.count, 'stripeCount')
          .u64(stripe.minBytes, 'stripeMinBytes');
      // PROTOCOL.md §5.17.4: the pieces follow the path, present only with PATCH.
      if (patch) {
        writer.u16(patch.length, 'pieceCount');
        for (const piece of patch) writer.u64(piece.offset, 'offset').u32(piece.length, 'length');
      }
      return writer.finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const chunkBytes = r.u32('chunkBytes');
      const flags = r.u8('flags');
      const heldSize = r.u64('heldSize');
      const haveDigest = r.copy(HASH_BYTES, 'haveDigest');
      const ranges = readRanges(r, r.u16('rangeCount'));
      const path = r.str(MAX_PATH_BYTES, 'path');
      // PROTOCOL.md §5.11.1, §5.13.6, §5.17.1 and §5.17.4: VERIFY_ONLY, STRIPED, SIGNATURE and PATCH.
      checkFlags(r, flags, GET_FLAG_VERIFY_ONLY | GET_FLAG_STRIPED | GET_FLAG_SIGNATURE | GET_FLAG_PATCH);
      const stripe =
        (flags & GET_FLAG_STRIPED) !== 0
          ? { index: r.u8('stripeIndex'), count: r.u8('stripeCount'), minBytes: r.u64('stripeMinBytes') }
          : undefined;
      const patch = (flags & GET_FLAG_PATCH) !== 0 ? readPieces(r) : undefined;
      r.end();
      const message: GetRequestMessage = {
        type: 'GET_REQUEST',
        ref,
        chunkBytes,
        verifyOnly: (flags & GET_FLAG_VERIFY_ONLY) !== 0,
        heldSize,
        haveDigest,
        ranges,
        path,
        ...(stripe ? { stripe } : {}),
        ...((flags & GET_FLAG_SIGNATURE) !== 0 ? { signature: true } : {}),
        ...(patch ? { patch } : {}),
      };
      checkGetRequest(message);
      return message;
    },
  },
  GET_OFFER: {
    encode(message) {
      checkRef(message.ref, 'get_offer');
      checkMode(message.mode, 'get_offer');
      return startMessage('GET_OFFER', 4 + 8 + 8 + 2 + 1)
        .u32(message.ref, 'ref')
        .u64(message.size, 'size')
        .u64(message.mtimeMs, 'mtimeMs')
        .u16(message.mode, 'mode')
        .u8(
          (message.heldAccepted ? GET_OFFER_FLAG_HELD_ACCEPTED : 0) |
            (message.striped ? GET_OFFER_FLAG_STRIPED : 0) |
            (message.signature ? GET_OFFER_FLAG_SIGNATURE : 0) |
            (message.patched ? GET_OFFER_FLAG_PATCHED : 0),
          'flags',
        )
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const size = r.u64('size');
      const mtimeMs = r.u64('mtimeMs');
      const mode = r.u16('mode');
      const flags = r.u8('flags');
      r.end();
      // PROTOCOL.md §5.11.2, §5.13.6, §5.17.2 and §5.17.4: HELD_ACCEPTED, STRIPED, SIGNATURE and PATCHED.
      checkFlags(
        r,
        flags,
        GET_OFFER_FLAG_HELD_ACCEPTED |
          GET_OFFER_FLAG_STRIPED |
          GET_OFFER_FLAG_SIGNATURE |
          GET_OFFER_FLAG_PATCHED,
      );
      checkRef(ref, 'get_offer');
      checkMode(mode, 'get_offer');
      const heldAccepted = (flags & GET_OFFER_FLAG_HELD_ACCEPTED) !== 0;
      const striped = (flags & GET_OFFER_FLAG_STRIPED) !== 0;
      const signature = (flags & GET_OFFER_FLAG_SIGNATURE) !== 0;
      const patched = (flags & GET_OFFER_FLAG_PATCHED) !== 0;
      // PROTOCOL.md §5.17.2: a signature answers a request that holds nothing, so it accepts no held set.
      if (signature && (heldAccepted || striped))
        throw r.fail('a signature offer accepts no held set and no stripe');
      // PROTOCOL.md §5.17.4: a patch answers neither a signature request nor a striped one.
      if (patched && (signature || striped)) throw r.fail('a patched offer is neither signed nor striped');
      return {
        type: 'GET_OFFER',
        ref,
        size,
        mtimeMs,
        mode,
        heldAccepted,
        ...(striped ? { striped } : {}),
        ...(signature ? { signature } : {}),
        ...(patched ? { patched } : {}),
      };
    },
  },
  GET_DATA: dataCodec('GET_DATA'),
  GET_CHUNK: chunkCodec('GET_CHUNK'),
  GET_END: endCodec('GET_END'),
};

/** Reads `u16 pieceCount` and the pieces of a PATCH request (PROTOCOL.md §5.17.4), bounded before reading. */
function readPieces(r: MessageReader): BytePiece[] {
  const count = r.u16('pieceCount');
  if (count > MAX_PATCH_PIECES) throw r.fail(`${count} patch pieces, limit ${MAX_PATCH_PIECES}`);
  if (r.remaining < count * PIECE_BYTES)
    throw r.fail(`expected ${count * PIECE_BYTES} bytes of patch pieces, got ${r.remaining}`);
  const pieces: BytePiece[] = [];
  for (let i = 0; i < count; i++) pieces.push({ offset: r.u64('offset'), length: r.u32('length') });
  return pieces;
}
