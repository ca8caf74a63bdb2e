// Hashing that sends no file data (here a delta upload's signature of the old file, PROTOCOL.md §5.15) is
// paid from each client's budget and, since this attack, from one budget all clients share: clients under
// many keys (each with its own full budget) could otherwise make the server hash without bound in total.
// Real server on loopback, raw sessions of two client keys, the budget's clock injected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  deltaBlockBytesFor,
  deltaBlockCount,
} from '../../src/protocol/index.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const MiB = 1024 * 1024;

test('delta signatures asked by two client keys are paid from the budget they share: past its burst the second waits, though its own budget is full', async (t) => {
  let clock = 1_000_000;
  const waits: number[] = [];
  const clients: KeyPair[] = [generateKeyPair(), generateKeyPair()];
  const { dir, server } = await startTempDirServer(t, 'ferry-hash-total-', {
    authorize: (key) =>
      clients.some((c) => c.publicKey.equals(key))
        ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }
        : undefined,
    hashBudget: {
      bytesPerSecond: MiB,
      burstBytes: 2 * MiB,
      totalBytesPerSecond: MiB,
      totalBurstBytes: 3 * MiB,
      now: () => clock,
      sleep: (ms) => {
        waits.push(ms);
        clock += ms;
        return Promise.resolve();
      },
    },
  });
  const size = 2 * MiB;
  const signed = async (client: KeyPair, path: string): Promise<void> => {
    await writeFile(join(dir, 'root', path), Buffer.alloc(size, path));
    const session = await openAdmittedSession(t, server.address, client);
    await session.send({
      type: 'PUT_OFFER',
      ref: 1,
      size,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: MiB,
      mode: 0o644,
      overwrite: true,
      fresh: false,
      delta: true,
      path,
    });
    assert.equal((await receiveMessage(session, 'PUT_ACCEPT')).delta, true);
    const blocks = deltaBlockCount(size, deltaBlockBytesFor(size));
    for (let n = 0; n < blocks;) {
      const record = await receiveMessage(session, 'DELTA_BLOCKS');
      n = record.firstBlock + record.weak.length;
    }
    await session.send({ type: 'CANCEL', ref: 1 });
  };
  await signed(clients[0]!, 'a.bin'); // 2 MiB: the first client's whole burst, two thirds of the shared one
  assert.deepEqual(waits, []);
  await signed(clients[1]!, 'b.bin'); // its own burst is full, the shared one 1 MiB short at 1 MiB/s
  assert.deepEqual(waits, [1000]);
});

test('a delta upload taken over again and again pays for every signature: one client`s repeated offers wait for its budget', async (t) => {
  let clock = 1_000_000;
  const waits: number[] = [];
  const client = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-hash-takeovers-', {
    authorize: (key) =>
      key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
    hashBudget: {
      bytesPerSecond: MiB,
      burstBytes: 2 * MiB,
      now: () => clock,
      sleep: (ms) => {
        waits.push(ms);
        clock += ms;
        return Promise.resolve();
      },
    },
  });
  const size = 2 * MiB;
  await writeFile(join(dir, 'root', 'old.bin'), Buffer.alloc(size, 3));
  const blocks = deltaBlockCount(size, deltaBlockBytesFor(size));
  // Each offer comes on a newer session of the client and takes the transfer over from the one before.
  for (let round = 0; round < 3; round++) {
    const session = await openAdmittedSession(t, server.address, client);
    await session.send({
      type: 'PUT_OFFER',
      ref: 1,
      size,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: MiB,
      mode: 0o644,
      overwrite: true,
      fresh: false,
      delta: true,
      path: 'old.bin',
    });
    assert.equal((await receiveMessage(session, 'PUT_ACCEPT')).delta, true);
    for (let n = 0; n < blocks;) {
      const record = await receiveMessage(session, 'DELTA_BLOCKS');
      n = record.firstBlock + record.weak.length;
    }
  }
  // 2 MiB a signature: the first takes the burst, each later one waits 2 s at 1 MiB/s.
  assert.deepEqual(waits, [2000, 2000]);
});
