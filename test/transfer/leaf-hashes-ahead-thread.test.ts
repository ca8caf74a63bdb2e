// LeafHashesAhead (a delta upload's new file hashed while the server signs its old one) has the leaf hash
// thread read the file itself through the source's lent descriptor (issue 16: read and hashed through the
// client's event loop, the thread sat idle whenever the loop was busy): every leaf's hash, the descriptor
// given back once it is over, a stop honoured before the next read; a source with no descriptor to lend
// (an object store's) is still hashed, through the event loop. Real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LEAF_BYTES, leafHash } from '../../src/protocol/index.js';
import { LeafHashesAhead, SourceFile, type ChunkSource } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** Two pieces of 64 leaves and a short last leaf. */
const bytes = randomBytes(128 * LEAF_BYTES + 999);

function assertEveryLeaf(ahead: LeafHashesAhead): void {
  assert.equal(ahead.hashes.knownCount, ahead.hashes.count, 'every leaf hashed');
  for (let leaf = 0; leaf < ahead.hashes.count; leaf++) {
    const at = leaf * LEAF_BYTES;
    const want = leafHash(bytes.subarray(at, Math.min(bytes.length, at + LEAF_BYTES)));
    assert.ok(ahead.hashes.get(leaf)!.equals(want), `leaf ${leaf}`);
  }
}

/** `file` as a ChunkSource, its methods bound to it, with `changes` in place of its own. */
function viewOf(file: SourceFile, changes: Partial<ChunkSource>): ChunkSource {
  return {
    size: file.size,
    mtimeMs: file.mtimeMs,
    mode: file.mode,
    identity: file.identity,
    readExactly: file.readExactly.bind(file),
    readvExactly: file.readvExactly.bind(file),
    chunkHash: file.chunkHash.bind(file),
    assertUnchanged: file.assertUnchanged.bind(file),
    close: file.close.bind(file),
    lendFd: file.lendFd.bind(file),
    returnFd: file.returnFd.bind(file),
    ...changes,
  };
}

/** `file` as a ChunkSource with its descriptor loans counted. */
function counted(file: SourceFile): { source: ChunkSource; lent: () => number; out: () => number } {
  let lent = 0;
  let out = 0;
  const source = viewOf(file, {
    lendFd: () => {
      lent++;
      out++;
      return file.lendFd();
    },
    returnFd: () => {
      out--;
      file.returnFd();
    },
  });
  return { source, lent: () => lent, out: () => out };
}

/** `bytes` in a file of its own, open; closed (and removed) once the test is over. */
async function openBytes(t: TestContext): Promise<SourceFile> {
  const dir = await makeTempDir('ferry-ahead-thread-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'next.bin');
  await writeFile(path, bytes);
  const file = await SourceFile.open(path, { noFollow: true });
  t.after(() => file.close());
  return file;
}

test('LeafHashesAhead: the leaf hash thread reads the file through its lent descriptor, every leaf hashed', async (t) => {
  const { source, lent, out } = counted(await openBytes(t));
  const ahead = LeafHashesAhead.start(source);
  await ahead.settled();
  assertEveryLeaf(ahead);
  assert.equal(lent(), 1, 'read through the lent descriptor');
  assert.equal(out(), 0, 'given back once over');
});

test('LeafHashesAhead: stopped at once, it gives the descriptor back and the file closes', async (t) => {
  const file = await openBytes(t);
  const { source, out } = counted(file);
  const ahead = LeafHashesAhead.start(source);
  await ahead.stop();
  assert.equal(out(), 0, 'given back');
  await file.close();
});

test('LeafHashesAhead: a source with no descriptor to lend is hashed through the event loop', async (t) => {
  const source = viewOf(await openBytes(t), { lendFd: undefined, returnFd: undefined });
  const ahead = LeafHashesAhead.start(source);
  await ahead.settled();
  assertEveryLeaf(ahead);
});
