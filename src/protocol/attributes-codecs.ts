import { FerryError } from '../errors/index.js';
import { MAX_PATH_BYTES } from './constants.js';
import { startMessage, type MessageCodecTable } from './message-codec.js';
import { checkMode, checkRef } from './message-checks.js';
import { encodeUtf8 } from './message-writer.js';

/**
 * The codec of SET_ATTRIBUTES (PROTOCOL.md §5.19): `u32 ref`, `u16 mode`, `u64 mtimeMs`, `str path`; the
 * answer is ACK (§5.9).
 */
export const ATTRIBUTES_CODECS: MessageCodecTable<'SET_ATTRIBUTES'> = {
  SET_ATTRIBUTES: {
    encode(message) {
      checkRef(message.ref, 'set_attributes');
      checkMode(message.mode, 'set_attributes');
      // PROTOCOL.md §5.19: the client's root is a directory, never the file this names, so '' is malformed.
      if (message.path === '') throw new FerryError('MESSAGE_MALFORMED', 'set_attributes: empty path');
      const path = encodeUtf8(message.path, 'set_attributes: path');
      return startMessage('SET_ATTRIBUTES', 4 + 2 + 8 + 2 + path.length)
        .u32(message.ref, 'ref')
        .u16(message.mode, 'mode')
        .u64(message.mtimeMs, 'mtimeMs')
        .str(path, MAX_PATH_BYTES, 'path')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const mode = r.u16('mode');
      const mtimeMs = r.u64('mtimeMs');
      const path = r.str(MAX_PATH_BYTES, 'path');
      r.end();
      checkRef(ref, 'set_attributes');
      // Permission bits only, as PUT_OFFER's (§5.3); the server narrows them further.
      checkMode(mode, 'set_attributes');
      if (path === '') throw r.fail('empty path');
      return { type: 'SET_ATTRIBUTES', ref, mode, mtimeMs, path };
    },
  },
};
