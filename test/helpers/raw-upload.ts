// One file uploaded by hand over raw admitted sessions (admitted-session.ts), in ways the library never
// would: the tests of joined streams and verified chunks (PROTOCOL.md §5.4, §5.5, §5.13) send offers, data
// and chunk hashes of their choosing and check each answer.
import assert from 'node:assert/strict';
import type { SecureChannel } from '../../src/channel/index.js';
import { chunkHashOf, fileDigest, type Message } from '../../src/protocol/index.js';
import { receiveMessage } from './admitted-session.js';

const MTIME_MS = 1_700_000_000_000;

/** `content` offered as `path` in chunks of `chunkBytes`, with its digest (PROTOCOL.md §7). */
export class RawUpload {
  readonly content: Buffer;
  readonly chunkBytes: number;
  readonly path: string;
  /** The file digest of `content`, as PUT_END carries it. */
  readonly digest: Buffer;

  constructor(content: Buffer, chunkBytes: number, path = 'f.bin') {
    this.content = content;
    this.chunkBytes = chunkBytes;
    this.path = path;
    const chunks = Math.ceil(content.length / chunkBytes);
    this.digest = fileDigest(
      content.length,
      chunkBytes,
      Array.from({ length: chunks }, (_, i) => chunkHashOf(this.chunk(i))),
    );
  }

  /** Chunk `index` of the content. */
  chunk(index: number): Buffer {
    return this.content.subarray(index * this.chunkBytes, (index + 1) * this.chunkBytes);
  }

  /** A PUT_OFFER of the file; with `join`, a JOIN presenting that token (PROTOCOL.md §5.13.2). */
  offer(ref: number, join?: Buffer): Message {
    return {
      type: 'PUT_OFFER',
      ref,
      size: this.content.length,
      mtimeMs: MTIME_MS,
      chunkBytes: this.chunkBytes,
      mode: 0o644,
      overwrite: false,
      fresh: false,
      ...(join ? { join } : {}),
      path: this.path,
    };
  }

  /**
   * Sends `data` as chunk `index` (PUT_DATA in two halves: a 64 KiB chunk does not fit one record) closed by
   * PUT_CHUNK with `hash`. By default the chunk's own bytes and hash.
   */
  async sendChunk(
    channel: SecureChannel,
    ref: number,
    index: number,
    data = this.chunk(index),
    hash = chunkHashOf(data),
  ): Promise<void> {
    const half = data.length >> 1;
    const offset = index * this.chunkBytes;
    await channel.send({ type: 'PUT_DATA', ref, offset, data: data.subarray(0, half) });
    await channel.send({ type: 'PUT_DATA', ref, offset: offset + half, data: data.subarray(half) });
    await channel.send({ type: 'PUT_CHUNK', ref, index, chunkHash: hash });
  }

  /**
   * Offers the file as ref 1 on `primary`, a fresh transfer, and has chunk 0 verified and durable (it waits
   * for the PROGRESS: the server must batch one chunk at a time); returns its PUT_ACCEPT's join token.
   */
  async startWithChunk0(primary: SecureChannel): Promise<Buffer> {
    await primary.send(this.offer(1));
    const accept = await receiveMessage(primary, 'PUT_ACCEPT');
    assert.deepEqual(accept.ranges, []);
    await this.sendChunk(primary, 1, 0);
    assert.equal((await receiveMessage(primary, 'PROGRESS')).verifiedBytes, this.chunkBytes);
    return accept.joinToken;
  }

  /** Sends PUT_END with the digest for `ref` and returns the PUT_DONE, past any PROGRESS before it. */
  async finish(channel: SecureChannel, ref: number): Promise<Extract<Message, { type: 'PUT_DONE' }>> {
    await channel.send({ type: 'PUT_END', ref, fileDigest: this.digest });
    let done = await channel.receive();
    while (done.type === 'PROGRESS') done = await channel.receive();
    assert.equal(done.type, 'PUT_DONE', JSON.stringify(done));
    return done;
  }
}
