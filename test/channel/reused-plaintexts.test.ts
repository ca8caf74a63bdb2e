// Records opened on the event loop (no receive pool) keep their file data in reused blocks (issue 14): each
// PUT_DATA plaintext is copied into a leased block, and a block takes new records only after the file store
// wrote and released every record of it. Over a real loopback socket into a real partial file: a block
// reused a moment too early would put the next records' bytes into the file, or into a view still held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FramedSocket, SecureChannel } from '../../src/channel/index.js';
import {
  DEFAULT_CHUNK_BYTES,
  MAX_PUT_DATA_BYTES,
  chunkHashOf,
  encodeMessage,
  writeFrameHeader,
  type Message,
} from '../../src/protocol/index.js';
import { FilePartialStore, PartialTransfer } from '../../src/transfer/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { keyedCipher, socketPair } from '../helpers/loopback-socket-pair.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const key = Buffer.alloc(32, 9);

/** The file as a sender sends it: full PUT_DATA records, a PUT_CHUNK after each chunk, sealed and framed. */
function wireOf(content: Buffer, chunkBytes: number): { wire: Buffer; messages: number } {
  const sender = keyedCipher(key, 50); // a REKEY every 50 records: short records opened among the data
  const frames: Buffer[] = [];
  const push = (message: Message): void => {
    if (sender.rekeyDue) frames.push(framed(...sender.sealRekey()));
    frames.push(framed(...sender.sealParts(encodeMessage(message))));
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
  return { wire: Buffer.concat(frames), messages: frames.length };
}

function framed(body: Buffer, tag: Buffer): Buffer {
  const header = Buffer.alloc(2);
  writeFrameHeader(body.length + tag.length, header, 0);
  return Buffer.concat([header, body, tag]);
}

async function receiveInto(
  dir: string,
  size: number,
  wire: Buffer,
  onData: (data: Buffer, index: number) => Buffer,
): Promise<string> {
  const pair = await socketPair();
  try {
    const receiving = new SecureChannel(new FramedSocket(pair.accepted), keyedCipher(key, 50), key, key);
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
    let index = 0;
    for (let chunks = 0; chunks < Math.ceil(size / DEFAULT_CHUNK_BYTES);) {
      const message = await receiving.receive();
      if (message.type === 'PUT_DATA') {
        await partial.writeData(message.offset, onData(message.data, index++));
      } else if (message.type === 'PUT_CHUNK') {
        partial.completeChunk(message.index, message.chunkHash); // throws CHUNK_MISMATCH on other bytes
        chunks++;
      } else assert.fail(`unexpected ${message.type}`);
    }
    await partial.close();
    receiving.close();
    return dataPath;
  } finally {
    pair.close();
  }
}

test('records opened on the event loop are written byte-exact while their blocks are reused', async (t) => {
  const dir = await makeTempDir('ferry-plain-reuse-');
  t.after(() => removeTempDir(dir));
  const size = 6 * DEFAULT_CHUNK_BYTES + 12_345;
  const content = new SeededRandom(29).bytes(size);
  const { wire } = wireOf(content, DEFAULT_CHUNK_BYTES);
  const blocks = new Map<ArrayBufferLike, number>();
  const dataPath = await receiveInto(dir, size, wire, (data) => {
    blocks.set(data.buffer, (blocks.get(data.buffer) ?? 0) + 1);
    return data;
  });
  assert.ok((await readFile(dataPath)).equals(content), 'the file holds exactly the bytes sent');
  // ~390 records in blocks of ~33 records: a block reused holds more records over the stream than fit in it.
  const most = Math.max(...blocks.values());
  assert.ok(most > 40, `a block was reused (at most ${most} records in one)`);
  assert.ok(blocks.size < 12, `${blocks.size} blocks for ~390 records`);
});

test('file data a holder keeps instead of handing it to the writer is never overwritten', async (t) => {
  const dir = await makeTempDir('ferry-plain-kept-');
  t.after(() => removeTempDir(dir));
  const size = 3 * DEFAULT_CHUNK_BYTES;
  const content = new SeededRandom(31).bytes(size);
  const { wire } = wireOf(content, DEFAULT_CHUNK_BYTES);
  // The 5th record's view is kept, and a copy of it is written instead: the view is never released, so its
  // block must never take other records, while the ~190 records after it go through the other blocks.
  let kept: Buffer | undefined;
  let copy: Buffer | undefined;
  let later = 0;
  const dataPath = await receiveInto(dir, size, wire, (data, index) => {
    if (index === 5) {
      kept = data;
      copy = Buffer.from(data);
      return copy;
    }
    if (kept !== undefined && data.buffer === kept.buffer) later++;
    return data;
  });
  assert.ok((await readFile(dataPath)).equals(content), 'the file holds exactly the bytes sent');
  assert.ok(kept!.equals(copy!), 'the kept view still holds its own bytes');
  assert.ok(later < 33, `its block took only the records that followed it at once (${later})`);
});
