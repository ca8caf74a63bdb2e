import { GET_DATA_HEADER_BYTES, writeGetDataHeader, type BytePiece } from '../protocol/index.js';
import type { ChunkSink } from '../transfer/index.js';

/**
 * A download's sink for a PATCHED answer (PROTOCOL.md §5.17.4): the streamer reads, hashes and hands over
 * every byte of each chunk as usual (so GET_CHUNK's hash is of the whole chunk, from the file), and of its
 * GET_DATA only the parts inside the request's pieces go out, each as its own GET_DATA. `pieces` are in
 * order (checked by the codec), and so are the streamer's messages, so one cursor walks them once.
 */
export function patchedSink(
  ref: number,
  pieces: readonly BytePiece[],
  send: (message: { type: 'GET_DATA'; ref: number; offset: number; data: Buffer }) => Promise<void>,
  sendChunk: (index: number, chunkHash: Buffer) => Promise<void>,
  onSent: (bytes: number) => void,
): ChunkSink {
  let next = 0;
  let fileOffset = 0;
  return {
    headerBytes: GET_DATA_HEADER_BYTES,
    writeDataHeader: (slot, offset) => {
      fileOffset = offset;
      return writeGetDataHeader(slot, 0, ref, offset);
    },
    sendData: async (plaintext) => {
      const data = plaintext.subarray(GET_DATA_HEADER_BYTES);
      const end = fileOffset + data.length;
      while (next < pieces.length && pieces[next]!.offset + pieces[next]!.length <= fileOffset) next++;
      for (let i = next; i < pieces.length && pieces[i]!.offset < end; i++) {
        const from = Math.max(pieces[i]!.offset, fileOffset);
        const to = Math.min(pieces[i]!.offset + pieces[i]!.length, end);
        if (from >= to) continue;
        await send({
          type: 'GET_DATA',
          ref,
          offset: from,
          data: data.subarray(from - fileOffset, to - fileOffset),
        });
        onSent(to - from);
      }
    },
    sendChunk,
  };
}
