import { MAX_DETAIL_BYTES } from './constants.js';
import { refCodec, startMessage, type MessageCodecTable } from './message-codec.js';
import { checkPermissions } from './message-checks.js';
import { encodeUtf8 } from './message-writer.js';

/**
 * The codecs of the messages that are not one transfer's data: ERROR, WELCOME (PROTOCOL.md §5.1, §5.2), ACK
 * and CANCEL (§5.9), and KEEPALIVE (§5.18).
 */
export const SESSION_CODECS: MessageCodecTable<'ERROR' | 'WELCOME' | 'ACK' | 'CANCEL' | 'KEEPALIVE'> = {
  ERROR: {
    encode(message) {
      const detail = encodeUtf8(message.detail, 'error: detail');
      return startMessage('ERROR', 4 + 2 + 2 + detail.length)
        .u32(message.ref, 'ref')
        .u16(message.code, 'code')
        .str(detail, MAX_DETAIL_BYTES, 'detail')
        .finish();
    },
    decode(r) {
      // ref 0 means the session (PROTOCOL.md §5.1); unknown codes are accepted and read as INTERNAL (§8).
      const ref = r.u32('ref');
      const code = r.u16('code');
      const detail = r.str(MAX_DETAIL_BYTES, 'detail');
      r.end();
      return { type: 'ERROR', ref, code, detail };
    },
  },
  WELCOME: {
    encode(message) {
      checkPermissions(message.permissions);
      return startMessage('WELCOME', 1 + 8)
        .u8(message.permissions, 'permissions')
        .u64(message.maxFileBytes, 'maxFileBytes')
        .finish();
    },
    decode(r) {
      const permissions = r.u8('permissions');
      const maxFileBytes = r.u64('maxFileBytes');
      r.end();
      checkPermissions(permissions);
      return { type: 'WELCOME', permissions, maxFileBytes };
    },
  },
  ACK: refCodec('ACK'),
  CANCEL: refCodec('CANCEL'),
  KEEPALIVE: {
    encode() {
      return startMessage('KEEPALIVE', 0).finish();
    },
    decode(r) {
      // PROTOCOL.md §5.18: an empty body; a byte more is MESSAGE_MALFORMED, as for every message (§5).
      r.end();
      return { type: 'KEEPALIVE' };
    },
  },
};
