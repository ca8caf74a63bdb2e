// What a same-size delta upload makes the server read and write of its old file is paid for (docs/SECURITY.md
// "Hashing on request"): the server signs the old file and places its leaves into the partial while it signs
// (PROTOCOL.md §5.15.3), reading all of it and writing as much, for an offer that sends no data; a client
// offering, cancelling and offering again repeats that as often as it likes. The signing pays the old file's
// size from the hash budget (per client and in total) before it reads. A signing that takes the old file's
// leaf hashes from a store of known hashes (issue 16's WARM deltas, helper "sig"'s branch) hashes nothing but
// still reads and places every leaf: it must pay the same reads. This test holds at main and fails where a
// warm signing skips the payment. Real server and client on loopback; the budget's clock and wait injected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { sendFiles } from '../../src/client/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

/** 16 MiB: the smallest old file a delta signs in whole leaves (§5.15.2), which a store of leaves keeps. */
const SIZE = 16 * 1024 * 1024;

test('a same-size delta upload pays its reads of the old file from the hash budget, every time, also when its leaf hashes are known', async (t) => {
  const identity = generateKeyPair();
  /** Bytes the server asked of the budget past its (one-byte) burst: each wait is one payment. */
  const waits: number[] = [];
  const { dir, server } = await startTempDirServer(t, 'ferry-warm-paid-', {
    authorize: (key) =>
      key.equals(identity.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
    hashBudget: {
      burstBytes: 1,
      bytesPerSecond: 1024 * 1024 * 1024,
      totalBurstBytes: 1,
      totalBytesPerSecond: 1024 * 1024 * 1024,
      now: () => 0,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    },
  });
  const source = join(dir, 'f.bin');
  const content = randomBytes(SIZE);
  await writeFile(source, content);
  const send = (): Promise<unknown> =>
    sendFiles({
      server: server.address,
      identity,
      verifyServer: () => undefined,
      files: [source],
      overwrite: true,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    });
  // First: a new file (no old file to sign, nothing paid for hashing); the server knows its leaves after.
  await send();
  const paidBefore = waits.length;
  // Then twice the same size with a change: each a delta that signs and places the old file.
  for (let round = 0; round < 2; round++) {
    content.fill(round + 1, 5_000_000, 5_001_000);
    await writeFile(source, content);
    const before = waits.length;
    await send();
    assert.ok(
      waits.length > before,
      `delta ${round + 1}: the server read the ${SIZE}-byte old file without paying for it`,
    );
    assert.deepEqual(await readFile(join(dir, 'root', 'f.bin')), content);
  }
  assert.equal(paidBefore, 0, 'the first upload sent its data: nothing to pay');
});
