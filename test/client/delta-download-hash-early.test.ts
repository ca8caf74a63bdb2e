// takeLeaves starts the leaf hashes of a scan window as soon as the window is read, before the scan of the
// window before it (issue 16: started only once that scan ended, the leaf hash thread, the download client's
// busiest, sat idle during every scan). The real leaf hash thread behind a wrapper that logs each job and
// holds the first window's hashes until the second window's job is posted, or else until the second window
// was read and the event loop turned once: without the early start the log shows the first window's hashes
// answered before the second's job. The leaves held are the served file's either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { takeLeaves, type OldFile } from '../../src/client/delta-download.js';
import { ScanHashesAhead } from '../../src/client/scan-hashes-ahead.js';
import { LEAF_BYTES, deltaSignatureOf, leafHash } from '../../src/protocol/index.js';
import { LeafHashThread, SourceFile } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { freshLeafPartial } from '../helpers/fresh-leaf-partial.js';

/** Three scan windows of 4 MiB (64 leaves each) and a short last leaf. */
const LEAVES = 150;
const SIZE = LEAVES * LEAF_BYTES + 100;
const WINDOW = 64 * LEAF_BYTES;

test('takeLeaves posts a window leaf hashes before the window before it is scanned', async (t) => {
  const dir = await makeTempDir('ferry-hash-early-');
  t.after(() => removeTempDir(dir));
  const oldBytes = randomBytes(SIZE);
  const served = Buffer.from(oldBytes);
  randomBytes(100).copy(served, 140 * LEAF_BYTES + 10); // one leaf differs, in the last window
  const path = join(dir, 'old.bin');
  await writeFile(path, oldBytes);
  const source = await SourceFile.open(path, { noFollow: true });
  t.after(() => source.close());

  const log: string[] = [];
  let secondRead: (() => void) | undefined;
  const secondReadDone = new Promise<void>((resolve) => (secondRead = resolve));
  const old: OldFile = {
    size: source.size,
    assertUnchanged: () => source.assertUnchanged(),
    readExactly: async (buffer, offset, length, position) => {
      await source.readExactly(buffer, offset, length, position);
      if (position === WINDOW) secondRead?.();
    },
  };
  const real = new LeafHashThread();
  t.after(() => real.close());
  let jobs = 0;
  let secondPosted: (() => void) | undefined;
  const secondJob = new Promise<void>((resolve) => (secondPosted = resolve));
  class LoggedThread extends LeafHashThread {
    override async hashLeaves(
      shared: SharedArrayBuffer,
      starts: readonly number[],
      length: number,
    ): Promise<Buffer> {
      const job = jobs++;
      log.push(`post ${job}`);
      if (job === 1) secondPosted?.();
      const hashes = await real.hashLeaves(shared, starts, length);
      // The first window's hashes wait for the second window's job, or for its read and one more turn.
      if (job === 0)
        await Promise.race([
          secondJob,
          secondReadDone.then(() => new Promise<void>((resolve) => setImmediate(resolve))),
        ]);
      log.push(`answer ${job}`);
      return hashes;
    }
  }
  const logged = new LoggedThread();
  t.after(() => logged.close());

  const { partial } = await freshLeafPartial(SIZE);
  t.after(() => partial.close());
  const signature = deltaSignatureOf(served, LEAF_BYTES);
  const taken = await takeLeaves(
    old,
    { signature, digest: Buffer.alloc(32) },
    partial,
    undefined,
    new ScanHashesAhead(logged),
  );
  assert.ok(
    log.indexOf('post 1') < log.indexOf('answer 0'),
    `the second window's job is posted before the first window's hashes are used: ${log.join(', ')}`,
  );
  for (let leaf = 0; leaf <= LEAVES; leaf++) assert.equal(taken.held.has(leaf), leaf !== 140, `leaf ${leaf}`);
  for (const { index, hash } of taken.held.entries())
    assert.ok(hash.equals(leafHash(served.subarray(index * LEAF_BYTES, (index + 1) * LEAF_BYTES))));
});
