import { PUT_DATA_HEADER_BYTES, writePutDataHeader } from '../protocol/index.js';
import type { streamChunks } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';

/** Where a plain upload's chunks go on one session: PUT_DATA (its header written in place), then PUT_CHUNK. */
export function putDataSink(session: ClientSession, ref: number): Parameters<typeof streamChunks>[1]['sink'] {
  return {
    headerBytes: PUT_DATA_HEADER_BYTES,
    writeDataHeader: (target, fileOffset) => writePutDataHeader(target, 0, ref, fileOffset),
    sendData: (plaintext) => session.sendData(plaintext),
    sendDataBlock: (plaintexts) => session.sendDataBlock(plaintexts),
    sendChunk: (index, chunkHash) => session.send({ type: 'PUT_CHUNK', ref, index, chunkHash }),
  };
}
