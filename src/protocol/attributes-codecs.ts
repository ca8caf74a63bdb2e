import { pathAttributesCodec, type MessageCodecTable } from './message-codec.js';

/**
 * The codec of SET_ATTRIBUTES (PROTOCOL.md §5.19): `u32 ref`, `u16 mode`, `u64 mtimeMs`, `str path`, PUT_DIR's
 * layout (pathAttributesCodec); the answer is ACK (§5.9).
 */
export const ATTRIBUTES_CODECS: MessageCodecTable<'SET_ATTRIBUTES'> = {
  SET_ATTRIBUTES: pathAttributesCodec('SET_ATTRIBUTES'),
};
