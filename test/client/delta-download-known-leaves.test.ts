// A WARM delta download's scan (issue 16): the client's old file's leaf hashes come from its store
// (`KnownLeafHashes`), so the leaves in place are matched without hashing them; a piece of the old file uses
// them only when the file's identity, checked after that piece was read, is still the one opened. Here the
// old file is changed between two windows' reads: the first window's leaves come from the store, the
// second's are hashed, and every leaf held holds the bytes of its hash (a leaf taken with a stored hash after
// the change would hold other bytes). Real old file, real PartialTransfer in the memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OLD_FILE_SCAN_COUNTERS, takeLeaves, type OldFile } from '../../src/client/delta-download.js';
import { ChunkHashes, LEAF_BYTES, deltaSignatureOf, leafHash } from '../../src/protocol/index.js';
import { SourceFile } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { assertHeldLeaves, freshLeafPartial } from '../helpers/fresh-leaf-partial.js';

const LEAVES = 300; // five 4 MiB windows and then some, signed in leaves
const SIZE = LEAVES * LEAF_BYTES + 100;
const WINDOW = 4 * 1024 * 1024;

async function scanWarm(oldBytes: Buffer, served: Buffer, changeBeforeSecondWindow?: { leaf: number }) {
  const dir = await makeTempDir('ferry-known-scan-');
  try {
    const path = join(dir, 'old.bin');
    await writeFile(path, oldBytes);
    const source = await SourceFile.open(path, { noFollow: true });
    // What the store knew of this version: every leaf's hash.
    const known = new ChunkHashes(SIZE, LEAF_BYTES);
    for (let i = 0; i < known.count; i++)
      known.set(i, leafHash(oldBytes.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES)));
    let changed = false;
    const old: OldFile = {
      size: source.size,
      assertUnchanged: () => source.assertUnchanged(),
      readExactly: async (buffer, offset, length, position) => {
        if (changeBeforeSecondWindow && !changed && position >= WINDOW) {
          changed = true;
          const handle = await open(path, 'r+');
          const at = changeBeforeSecondWindow.leaf * LEAF_BYTES;
          await handle.write(randomBytes(LEAF_BYTES), 0, LEAF_BYTES, at);
          await handle.close();
        }
        await source.readExactly(buffer, offset, length, position);
      },
    };
    const { store, partial } = await freshLeafPartial(served.length);
    const hashed = OLD_FILE_SCAN_COUNTERS.hashedLeaves;
    const knownBefore = OLD_FILE_SCAN_COUNTERS.knownLeaves;
    const signature = deltaSignatureOf(served, LEAF_BYTES);
    const taken = await takeLeaves(
      old,
      { signature, digest: Buffer.alloc(32) },
      partial,
      undefined,
      undefined,
      known,
    );
    await partial.close();
    await source.close();
    await assertHeldLeaves(store, taken.held, served);
    return {
      taken,
      hashed: OLD_FILE_SCAN_COUNTERS.hashedLeaves - hashed,
      known: OLD_FILE_SCAN_COUNTERS.knownLeaves - knownBefore,
    };
  } finally {
    await removeTempDir(dir);
  }
}

test('takeLeaves with the old file known: the leaves in place are matched without hashing one', async () => {
  const oldBytes = randomBytes(SIZE);
  const served = Buffer.from(oldBytes);
  randomBytes(100).copy(served, 5 * LEAF_BYTES + 10); // the first difference early: the rest written at once
  const { taken, hashed, known } = await scanWarm(oldBytes, served);
  assert.ok(
    hashed <= 3,
    `${hashed} leaves hashed: the short last one (a tail is matched by its own hash) and a stray weak checksum at most`,
  );
  assert.ok(known >= LEAVES - 1, `${known} leaves known`);
  for (let leaf = 0; leaf <= LEAVES; leaf++)
    if (leaf !== 5 && leaf !== LEAVES) assert.ok(taken.held.has(leaf), `leaf ${leaf} held`);
});

test('takeLeaves with the old file known, changed between two windows: the leaves read after are hashed, the changed one not held', async () => {
  const oldBytes = randomBytes(SIZE);
  const served = Buffer.from(oldBytes);
  randomBytes(100).copy(served, 5 * LEAF_BYTES + 10);
  const changedLeaf = 100; // in the second window, read after the change
  const { taken, hashed, known } = await scanWarm(oldBytes, served, { leaf: changedLeaf });
  assert.ok(known > 0 && known <= 2 * 64 + 2, `the first window's leaves known (${known})`);
  assert.ok(hashed > 0, 'the leaves read after the change are hashed');
  assert.equal(taken.held.has(changedLeaf), false, 'the changed leaf is not held: it is received');
});
