// A delta upload's scan (streamDeltaChunks) with the download's policy of hashing the scan's leaves ahead
// (ScanHashesAhead, issue 16): after an insertion every leaf the matcher checks is shifted off the leaf
// boundaries, and those are hashed on the real leaf hash thread, over the very shared window scanned, while
// the chunk before is scanned. The pieces and chunk hashes are those of a scan without it, and a thread
// answering wrong hashes makes nothing count: no copy is found from them and every chunk hash is the file's.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ScanHashesAhead } from '../../src/client/scan-hashes-ahead.js';
import {
  ChunkHashes,
  DeltaMatcher,
  LEAF_BYTES,
  chunkHashOf,
  deltaSignatureOf,
} from '../../src/protocol/index.js';
import {
  LEAF_HASH_THREAD,
  LeafHashThread,
  LeafHashesAhead,
  SourceFile,
  streamDeltaChunks,
  type ScanAhead,
} from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK_BYTES = 16 * LEAF_BYTES;
const INSERTED = 1024;
const old = randomBytes(100 * LEAF_BYTES + 777);
// 1 KiB inserted in the first leaf: every later leaf of the old file lies 1 KiB past a boundary.
const next = Buffer.concat([old.subarray(0, 5000), randomBytes(INSERTED), old.subarray(5000)]);

interface Streamed {
  pieces: string[];
  hashes: ChunkHashes;
  /** Leaf hashes the matcher took from the hashes ahead, by offset mod LEAF_BYTES. */
  usedByPhase: Map<number, number>;
}

async function stream(
  t: TestContext,
  scanAhead: 'none' | 'thread' | 'zeros',
  hashedAhead = true,
): Promise<Streamed> {
  const dir = await makeTempDir('ferry-upload-scan-ahead-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'next.bin');
  await writeFile(path, next);
  const source = await SourceFile.open(path, { noFollow: true });
  const thread = new LeafHashThread();
  t.after(() => thread.close());
  thread.warm(); // a file this small would not start it (`worthFor`)
  const answering =
    scanAhead === 'zeros'
      ? ({
          worthFor: () => true,
          hashLeaves: async (shared: SharedArrayBuffer, starts: readonly number[], length: number) =>
            Buffer.alloc((await thread.hashLeaves(shared, starts, length)).length),
        } as unknown as LeafHashThread)
      : thread;
  const policy = new ScanHashesAhead(answering);
  const usedByPhase = new Map<number, number>();
  // The policy itself, its answers counted as the matcher takes them.
  const counted: ScanAhead = {
    get phase() {
      return policy.phase;
    },
    follow: (offsets) => policy.follow(offsets),
    start: async (piece, at, before) => {
      const known = await policy.start(piece, at, before);
      return (
        known &&
        ((offset) => {
          const hash = known(offset);
          if (hash) usedByPhase.set(offset % LEAF_BYTES, (usedByPhase.get(offset % LEAF_BYTES) ?? 0) + 1);
          return hash;
        })
      );
    },
  };
  try {
    const ahead = hashedAhead ? LeafHashesAhead.start(source) : undefined;
    await ahead?.settled();
    const hashes = new ChunkHashes(source.size, CHUNK_BYTES);
    const pieces: string[] = [];
    await streamDeltaChunks(source, {
      chunkBytes: CHUNK_BYTES,
      chunks: Array.from({ length: hashes.count }, (_, i) => i)[Symbol.iterator](),
      hashes,
      matcher: new DeltaMatcher(deltaSignatureOf(old, LEAF_BYTES)),
      ...(ahead ? { ahead } : {}),
      ...(scanAhead === 'none' ? {} : { scanAhead: counted }),
      sink: {
        sendCopy: (offset, oldOffset, length) => {
          pieces.push(`copy ${offset}+${length}@${oldOffset}`);
          return Promise.resolve();
        },
        sendData: (offset, data) => {
          pieces.push(`data ${offset}+${data.length}`);
          return Promise.resolve();
        },
        sendChunk: (index) => {
          pieces.push(`chunk ${index}`);
          return Promise.resolve();
        },
      },
    });
    return { pieces, hashes, usedByPhase };
  } finally {
    await source.close();
  }
}

function assertTheFilesChunkHashes(hashes: ChunkHashes): void {
  for (let i = 0; i < hashes.count; i++)
    assert.ok(
      hashes.get(i)!.equals(chunkHashOf(next.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES))),
      `chunk ${i}`,
    );
}

test('a delta upload scan after an insertion takes the shifted leaves hashed ahead on the thread: same pieces, the file’s chunk hashes', async (t) => {
  const plain = await stream(t, 'none');
  const ahead = await stream(t, 'thread');
  assert.deepEqual(ahead.pieces, plain.pieces);
  assert.ok(plain.pieces.some((p) => p.startsWith('copy')) && plain.pieces.some((p) => p.startsWith('data')));
  assertTheFilesChunkHashes(ahead.hashes);
  // The matcher checked the shifted leaves by the thread's hashes: all but the first windows' (read before
  // the first match set the phase), and none at the boundaries (LeafHashesAhead has those).
  const shifted = ahead.usedByPhase.get(INSERTED) ?? 0;
  assert.ok(shifted >= 100 - 2 * 16, `only ${shifted} shifted leaves were taken from the thread`);
  assert.equal(ahead.usedByPhase.size, 1, 'only the shifted phase is hashed ahead');
});

test('a delta upload scan whose thread answers wrong hashes counts none of them: no copy found from them, every chunk hash the file’s', async (t) => {
  const plain = await stream(t, 'none');
  const wrong = await stream(t, 'zeros');
  assertTheFilesChunkHashes(wrong.hashes);
  const copied = (pieces: string[]) =>
    pieces.filter((p) => p.startsWith('copy')).reduce((n, p) => n + Number(p.split(/[+@]/)[1]), 0);
  assert.ok(copied(wrong.pieces) < copied(plain.pieces), 'the wrong hashes matched nothing');
});

test('a delta upload scan past the new file’s hashes taken ahead hashes each chunk’s leaves on the thread as it reads it, for the chunk hash', async (t) => {
  // The hashing ahead stops once the signature is whole: here it never ran. The leaf hash thread's jobs are
  // counted (the real thread still does them).
  const hashLeaves = LEAF_HASH_THREAD.hashLeaves.bind(LEAF_HASH_THREAD);
  let leavesOnThread = 0;
  LEAF_HASH_THREAD.hashLeaves = (shared, starts, length) => {
    leavesOnThread += starts.length;
    return hashLeaves(shared, starts, length);
  };
  t.after(() => {
    LEAF_HASH_THREAD.hashLeaves = hashLeaves;
  });
  const plain = await stream(t, 'none');
  leavesOnThread = 0;
  const unhashed = await stream(t, 'none', false);
  assert.deepEqual(unhashed.pieces, plain.pieces);
  assertTheFilesChunkHashes(unhashed.hashes);
  const wholeLeaves = Math.floor(next.length / LEAF_BYTES);
  assert.equal(leavesOnThread, wholeLeaves, 'every whole leaf hashed on the thread');
});
