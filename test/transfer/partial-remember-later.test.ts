// PartialTransfer.finish with `rememberLater` (issue 16): the placed file's leaf hashes are recorded in the
// store of known leaf hashes only when the caller says so (`rememberPlaced`, once), so a server's PUT_DONE
// does not wait for the record's encoding; without it, before the finish resolves, as before. Real files,
// a real store.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHashOf, fileDigest } from '../../src/protocol/index.js';
import {
  FilePartialStore,
  KnownLeafHashes,
  PartialTransfer,
  resolveUnderRoot,
} from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** The smallest file worth knowing: its signature is in leaves (16 MiB, PROTOCOL.md §5.15.2). */
const SIZE = 16 * 1024 * 1024;
const CHUNK_BYTES = 4 * 1024 * 1024;

/** Receives a whole file of random bytes into a fresh partial and finishes it with `rememberLater`. */
async function received(t: TestContext, rememberLater: boolean) {
  const dir = await makeTempDir('ferry-remember-later-');
  t.after(() => removeTempDir(dir));
  const known = new KnownLeafHashes(join(dir, 'leaves'));
  const content = randomBytes(SIZE);
  const target = await resolveUnderRoot(dir, ['placed.bin'], { createDirs: true });
  const store = new FilePartialStore({
    pathsOf: () => ({ dataPath: join(dir, 'id.part'), logPath: join(dir, 'id.state') }),
  });
  const partial = await PartialTransfer.open(store, 'id', {
    size: SIZE,
    mtimeMs: 1_700_000_000_000,
    chunkBytes: CHUNK_BYTES,
    fresh: true,
    knownLeafHashes: { store: known, place: target.path },
  });
  t.after(() => partial.close());
  const hashes: Buffer[] = [];
  for (let at = 0; at < SIZE; at += CHUNK_BYTES) {
    const chunk = content.subarray(at, at + CHUNK_BYTES);
    await partial.writeData(at, Buffer.from(chunk));
    hashes.push(chunkHashOf(chunk));
    partial.completeChunk(hashes.length - 1, hashes.at(-1)!);
  }
  const digest = fileDigest(SIZE, CHUNK_BYTES, hashes);
  const options = { mode: 0o644, overwrite: false, ...(rememberLater ? { rememberLater } : {}) };
  assert.ok((await partial.finish(digest, target, options)).equals(digest));
  assert.ok((await readFile(target.path)).equals(content), 'placed byte-exact');
  await known.settled();
  return { partial, known };
}

test('a finish with rememberLater records the placed file only at rememberPlaced, and once', async (t) => {
  const { partial, known } = await received(t, true);
  assert.equal(known.counters.recorded, 0, 'nothing recorded by the finish');
  partial.rememberPlaced();
  await known.settled();
  assert.equal(known.counters.recorded, 1, 'recorded when asked');
  partial.rememberPlaced();
  await known.settled();
  assert.equal(known.counters.recorded, 1, 'once');
});

test('a finish without rememberLater records the placed file itself, and rememberPlaced adds nothing', async (t) => {
  const { partial, known } = await received(t, false);
  assert.equal(known.counters.recorded, 1);
  partial.rememberPlaced();
  await known.settled();
  assert.equal(known.counters.recorded, 1);
});
