// The receive pool's blocks are reused once their data is written (issue 14): records opened in place by the
// workers reach the writer as views of a block, and the block takes new records only after the file store
// wrote and released every record of it. Over a real loopback socket into a real partial file: a block
// reused a moment too early would put the next records' bytes into the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FramedSocket, SecureChannel } from '../../../src/channel/index.js';
import {
  DEFAULT_CHUNK_BYTES,
  MAX_PUT_DATA_BYTES,
  chunkHashOf,
  encodeMessage,
  writeFrameHeader,
  type Message,
} from '../../../src/protocol/index.js';
import { FilePartialStore, PartialTransfer } from '../../../src/transfer/index.js';
import { SealPool } from '../../../src/transfer/pipeline/seal-pool.js';
import { SeededRandom } from '../../helpers/seeded-random.js';
import { keyedCipher, socketPair } from '../../helpers/loopback-socket-pair.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';

const key = Buffer.alloc(32, 7);

/** The file as a sender sends it: full PUT_DATA records, a PUT_CHUNK after each chunk, sealed and framed. */
function wireOf(content: Buffer, chunkBytes: number): { wire: Buffer; messages: number } {
  const sender = keyedCipher(key);
  const frames: Buffer[] = [];
  const push = (message: Message): void => {
    const [body, tag] = sender.sealParts(encodeMessage(message));
    const header = Buffer.alloc(2);
    writeFrameHeader(body.length + tag.length, header, 0);
    frames.push(header, body, tag);
  };
  for (let start = 0, index = 0; start < content.length; start += chunkBytes, index++) {
    const end = Math.min(content.length, start + chunkBytes);
    for (let at = start; at < end; at += MAX_PUT_DATA_BYTES) {
      push({
        type: 'PUT_DATA',
        ref: 1,
        offset: at,
        data: content.subarray(at, Math.min(end, at + MAX_PUT_DATA_BYTES)),
      });
    }
    push({ type: 'PUT_CHUNK', ref: 1, index, chunkHash: chunkHashOf(content.subarray(start, end)) });
  }
  return { wire: Buffer.concat(frames), messages: frames.length / 3 };
}

test('records opened in place on 2 threads are written byte-exact while their blocks are reused', async (t) => {
  const dir = await makeTempDir('ferry-reuse-');
  t.after(() => removeTempDir(dir));
  const pool = new SealPool(2);
  const pair = await socketPair();
  try {
    const size = 6 * DEFAULT_CHUNK_BYTES + 12_345;
    const content = new SeededRandom(23).bytes(size);
    const { wire, messages } = wireOf(content, DEFAULT_CHUNK_BYTES);
    const receiving = new SecureChannel(new FramedSocket(pair.accepted), keyedCipher(key), key, key);
    receiving.openInParallel(pool);
    const dataPath = join(dir, 'file.part');
    const store = new FilePartialStore({ pathsOf: () => ({ dataPath, logPath: join(dir, 'file.state') }) });
    const partial = await PartialTransfer.open(store, 'file', {
      size,
      mtimeMs: 0,
      chunkBytes: DEFAULT_CHUNK_BYTES,
      fresh: true,
    });
    // Odd-sized writes, so records arrive split across socket reads, as they do from a real peer.
    for (let at = 0; at < wire.length; at += 50_001) pair.dialled.write(wire.subarray(at, at + 50_001));
    // The blocks (shared memory) the records' views lie in: a reused block shows up again.
    const blocks = new Set<ArrayBufferLike>();
    let dataRecords = 0;
    for (let i = 0; i < messages; i++) {
      const message = await receiving.receive();
      if (message.type === 'PUT_DATA') {
        blocks.add(message.data.buffer);
        dataRecords += 1;
        await partial.writeData(message.offset, message.data);
      } else if (message.type === 'PUT_CHUNK') {
        partial.completeChunk(message.index, message.chunkHash); // throws CHUNK_MISMATCH on other bytes
      } else assert.fail(`unexpected ${message.type}`);
    }
    await partial.close();
    receiving.close();
    assert.ok((await readFile(dataPath)).equals(content), 'the file holds exactly the bytes sent');
    // A block holds at most 16 full records: fewer blocks than that means blocks took new records.
    assert.ok(
      blocks.size < dataRecords / 16,
      `the blocks were reused: ${blocks.size} blocks for ${dataRecords} records`,
    );
  } finally {
    pair.close();
    await pool.close();
  }
});
