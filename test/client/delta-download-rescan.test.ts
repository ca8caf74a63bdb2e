// takeLeaves (PROTOCOL.md §5.17.3) over a real old file rewritten between its scan and the placing of the
// leaves the scan saw in place: the leaf rewritten must not be held with the scan's hash (the old file's
// identity moved: the bytes read again are hashed), every other leaf is. Real file, real rewrite (size and
// mtime kept, so only the ctime tells), the partial in memory (the port's conformance-tested store).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { takeLeaves, type OldFile } from '../../src/client/delta-download.js';
import { LEAF_BYTES, deltaSignatureOf } from '../../src/protocol/index.js';
import { SourceFile } from '../../src/transfer/index.js';
import { rewriteKeepingSizeAndMtime } from '../helpers/rewrite-keeping-size-and-mtime.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { freshLeafPartial } from '../helpers/fresh-leaf-partial.js';

/** Two scan windows (4 MiB each): the second read comes once the first window, and the change, are scanned. */
const LEAVES = 100;
/** The server's file differs from the old one in this leaf: the leaves before it lie in place, deferred. */
const CHANGED = 20;
/** The old file's leaf rewritten once the scan has read past the change. */
const REWRITTEN = 5;

for (const rewrite of [true, false]) {
  test(`takeLeaves: leaves seen in place are placed ${rewrite ? 'hashed again after a rewrite' : 'with the scan’s hashes'}`, async (t) => {
    const dir = await makeTempDir('ferry-take-leaves-');
    t.after(() => removeTempDir(dir));
    const oldBytes = randomBytes(LEAVES * LEAF_BYTES + 100);
    const served = Buffer.from(oldBytes);
    randomBytes(100).copy(served, CHANGED * LEAF_BYTES + 10);
    const path = join(dir, 'old.bin');
    await writeFile(path, oldBytes);
    const source = await SourceFile.open(path, { noFollow: true });
    t.after(() => source.close());
    let rewritten = false;
    // The real file, rewritten on disk once a read reaches past the changed leaf (the scan is beyond the
    // leaves it deferred, the placing has not begun).
    const old: OldFile = {
      size: source.size,
      assertUnchanged: () => source.assertUnchanged(),
      readExactly: async (buffer, offset, length, position) => {
        if (rewrite && !rewritten && position > CHANGED * LEAF_BYTES) {
          rewritten = true;
          rewriteKeepingSizeAndMtime(path, REWRITTEN * LEAF_BYTES + 7, 1_700_000_000);
        }
        await source.readExactly(buffer, offset, length, position);
      },
    };
    const { partial } = await freshLeafPartial(served.length);
    t.after(() => partial.close());
    const signature = deltaSignatureOf(served, LEAF_BYTES);
    const taken = await takeLeaves(old, { signature, digest: Buffer.alloc(32) }, partial);
    assert.equal(rewritten, rewrite);
    assert.equal(taken.identical, false);
    for (let leaf = 0; leaf <= LEAVES; leaf++) {
      const want = leaf !== CHANGED && !(rewrite && leaf === REWRITTEN);
      assert.equal(taken.held.has(leaf), want, `leaf ${leaf} held: ${want}`);
    }
  });
}
