import { FerryError } from '../errors/index.js';
import { MAX_PATH_BYTES, REMOVE_FLAG_NOT_UTF8 } from './constants.js';
import { checkFlags, startMessage, type MessageCodecTable } from './message-codec.js';
import { checkRef } from './message-checks.js';
import { encodeUtf8 } from './message-writer.js';

/** The codec of a removal (PROTOCOL.md §5.16): `u32 ref`, `u8 flags`, `str path`; the answer is ACK (§5.9). */
export const REMOVE_CODECS: MessageCodecTable<'REMOVE_REQUEST'> = {
  REMOVE_REQUEST: {
    encode(message) {
      checkRef(message.ref, 'remove_request');
      // PROTOCOL.md §5.16: the client's root itself is never removed, so '' is malformed here.
      if (message.path === '') throw new FerryError('MESSAGE_MALFORMED', 'remove_request: empty path');
      const path = encodeUtf8(message.path, 'remove_request: path');
      return startMessage('REMOVE_REQUEST', 4 + 1 + 2 + path.length)
        .u32(message.ref, 'ref')
        .u8(message.notUtf8 ? REMOVE_FLAG_NOT_UTF8 : 0, 'flags')
        .str(path, MAX_PATH_BYTES, 'path')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const flags = r.u8('flags');
      const path = r.str(MAX_PATH_BYTES, 'path');
      r.end();
      checkRef(ref, 'remove_request');
      checkFlags(r, flags, REMOVE_FLAG_NOT_UTF8);
      if (path === '') throw r.fail('empty path');
      return { type: 'REMOVE_REQUEST', ref, ...(flags !== 0 ? { notUtf8: true as const } : {}), path };
    },
  },
};
