// takeLeaves (PROTOCOL.md §5.17.3) accepts the leaves it placed window after window behind the scan, not in
// its way (issue 16): each acceptance first checks the old file's identity (an fstat, so the bytes placed are
// the bytes the scan hashed), and while the scan awaited that check, the next window's read, and so its
// hashing, waited too. Here the identity check answers only once the scan has asked to read further than it
// had when the check began: a scan that waits for the check never does, and the test times out. Every leaf
// held still holds the served bytes of its hash (a changed old file still gives nothing:
// delta-download-rescan.test.ts). A real old file, the real PartialTransfer in the memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { takeLeaves, type OldFile } from '../../src/client/delta-download.js';
import { LEAF_BYTES, deltaSignatureOf, leafHash } from '../../src/protocol/index.js';
import { SourceFile } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { freshLeafPartial } from '../helpers/fresh-leaf-partial.js';

/** Three scan windows (4 MiB, 64 leaves each) and a little more. */
const LEAVES = 3 * 64 + 8;

test(
  'a delta scan reads on while the leaves it placed wait for the old file’s identity check',
  { timeout: 60_000 },
  async (t) => {
    const dir = await makeTempDir('ferry-accept-behind-');
    t.after(() => removeTempDir(dir));
    const oldBytes = randomBytes(LEAVES * LEAF_BYTES);
    // The first leaf differs: the file is known to differ at once, so the placed leaves are accepted as it goes.
    const served = Buffer.from(oldBytes);
    randomBytes(LEAF_BYTES).copy(served, 0);
    const path = join(dir, 'old.bin');
    await writeFile(path, oldBytes);
    const source = await SourceFile.open(path, { noFollow: true });
    t.after(() => source.close());
    // The identity check answers once the scan asks for a read past every read it had asked for when the check
    // began (or has asked for the file's end): a scan that waits for the check never does.
    let asked = 0;
    const waiting: Array<{ past: number; go: () => void }> = [];
    const old: OldFile = {
      size: source.size,
      assertUnchanged: async () => {
        if (asked < source.size) {
          const past = asked;
          await new Promise<void>((go) => waiting.push({ past, go }));
        }
        await source.assertUnchanged();
      },
      readExactly: async (buffer, offset, length, position) => {
        asked = Math.max(asked, position + length);
        for (const wait of waiting.splice(0))
          if (asked > wait.past) wait.go();
          else waiting.push(wait);
        await source.readExactly(buffer, offset, length, position);
      },
    };
    const { store, partial } = await freshLeafPartial(served.length);
    const signature = deltaSignatureOf(served, LEAF_BYTES);
    const taken = await takeLeaves(old, { signature, digest: Buffer.alloc(32) }, partial);
    await partial.close();
    assert.equal(taken.identical, false);
    assert.equal(taken.held.knownCount, LEAVES - 1, 'every leaf but the first is taken');
    const found = await store.inspect('k');
    assert.ok(found, 'the partial is kept');
    const bytes = Buffer.alloc(served.length);
    await found.reader.read(0, bytes);
    await found.reader.close();
    for (const { index, hash } of taken.held.entries()) {
      const leaf = bytes.subarray(index * LEAF_BYTES, (index + 1) * LEAF_BYTES);
      assert.ok(leafHash(leaf).equals(hash), `leaf ${index}: the partial holds the bytes of its hash`);
      assert.ok(leaf.equals(served.subarray(index * LEAF_BYTES, (index + 1) * LEAF_BYTES)));
    }
  },
);
