// The protocol layer (docs/PROTOCOL.md): pure codecs and rules, no sockets, files or timers.
export {
  AEAD_TAG_BYTES,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_PORT,
  FILE_MODE_MASK,
  HASH_BYTES,
  MAX_ACCEPT_RANGES,
  MAX_CHUNK_BYTES,
  MAX_CHUNK_COUNT,
  MAX_COMPONENT_BYTES,
  MAX_DETAIL_BYTES,
  MAX_HANDSHAKE_MESSAGE_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PATH_BYTES,
  MAX_PUT_DATA_BYTES,
  MAX_RECORD_BYTES,
  MIN_CHUNK_BYTES,
  MIN_RECORD_BYTES,
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  PREAMBLE_BYTES,
  PROTOCOL_VERSION,
  PUT_ACCEPT_FLAG_RESTARTED,
  PUT_DATA_HEADER_BYTES,
  PUT_OFFER_FLAG_FRESH,
  PUT_OFFER_FLAG_OVERWRITE,
  RESERVED_ROOT_COMPONENT,
} from './constants.js';
export { decodePreamble, encodePreamble, isPreamble, type Preamble } from './preamble.js';
export { FrameDecoder, encodeFrame, writeFrameHeader, type FrameDecoderOptions } from './frame-decoder.js';
export {
  MESSAGE_TYPE_CODES,
  decodeMessage,
  encodeMessage,
  writePutDataHeader,
  type ErrorMessage,
  type Message,
  type MessageType,
  type ProgressMessage,
  type PutAcceptMessage,
  type PutChunkMessage,
  type PutDataMessage,
  type PutDoneMessage,
  type PutEndMessage,
  type PutOfferMessage,
  type WelcomeMessage,
} from './messages.js';
export { joinRemotePath, parseRemotePath } from './remote-path.js';
export { FileDigestBuilder, chunkCount, chunkLength, fileDigest, haveDigest } from './file-digest.js';
export { ChunkSet, indicesFromRanges, rangesFromIndices, type ChunkRange } from './chunk-ranges.js';
