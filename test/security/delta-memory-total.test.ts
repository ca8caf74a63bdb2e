// The memory delta uploads hold on the server (copy buffers, signing reads, the old file's leaf hashes:
// deltaMemoryBytes) is bounded in total, shared by every client (docs/SECURITY.md "Delta memory"). Before,
// only the connection limit bounded it: every session of every key could hold ~12 MiB and more at once.
// Many client keys offer delta uploads at once to a real server on loopback: past the bound they wait (no
// PUT_ACCEPT yet), never refused, and each goes once an earlier one ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import type { SecureChannel } from '../../src/channel/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  deltaBlockBytesFor,
  deltaBlockCount,
} from '../../src/protocol/index.js';
import { deltaMemoryBytes } from '../../src/server/delta-memory.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const MiB = 1024 * 1024;
const SIZE = 2 * MiB;
const SESSIONS = 6;
/** Room for two delta uploads of SIZE at once. */
const TOTAL = 2 * deltaMemoryBytes(SIZE);

test('delta uploads of many client keys past the server`s total delta memory wait for earlier ones to end, and none is refused', async (t) => {
  const clients: KeyPair[] = Array.from({ length: SESSIONS }, () => generateKeyPair());
  let waited = 0;
  let allWaiting: () => void = () => undefined;
  const waitingAll = new Promise<void>((resolve) => (allWaiting = resolve));
  const { dir, server } = await startTempDirServer(t, 'ferry-delta-memory-', {
    authorize: (key) =>
      clients.some((c) => c.publicKey.equals(key))
        ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }
        : undefined,
    deltaMemory: {
      totalBytes: TOTAL,
      onWait: () => {
        if (++waited === SESSIONS - 2) allWaiting();
      },
    },
  });
  const sessions = await Promise.all(
    clients.map(async (client, i) => {
      const path = `old-${i}.bin`;
      await writeFile(join(dir, 'root', path), Buffer.alloc(SIZE, i));
      const session = await openAdmittedSession(t, server.address, client);
      return { session, path };
    }),
  );
  const accepted: number[] = [];
  const answers = sessions.map(async ({ session, path }, i) => {
    await session.send({
      type: 'PUT_OFFER',
      ref: 1,
      size: SIZE,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: MiB,
      mode: 0o644,
      overwrite: true,
      fresh: false,
      delta: true,
      path,
    });
    const accept = await receiveMessage(session, 'PUT_ACCEPT');
    accepted.push(i);
    return accept;
  });
  // Either every offer but two waits for memory, or (without the bound) every one is accepted at once.
  const everyAccepted = Promise.all(answers).then(() => 'all accepted');
  assert.equal(await Promise.race([waitingAll.then(() => 'waiting'), everyAccepted]), 'waiting');
  assert.ok(server.deltaMemory.heldBytes <= TOTAL, `${server.deltaMemory.heldBytes} held`);
  // Each upload that ends lets one waiting offer go, until all were accepted: waiting, not refusing.
  for (let k = 0; k < SESSIONS; k++) {
    while (accepted.length <= k) await Promise.race(answers.filter((_, i) => !accepted.includes(i)));
    const next = accepted[k]!;
    assert.equal((await answers[next]!).delta, true, `session ${next} got a delta upload`);
    const { session } = sessions[next]!;
    await drainSignature(session);
    await session.send({ type: 'CANCEL', ref: 1 });
  }
  assert.equal(accepted.length, SESSIONS);
  assert.ok(server.deltaMemory.peakBytes <= TOTAL, `peak ${server.deltaMemory.peakBytes} over ${TOTAL}`);
  assert.ok(server.deltaMemory.peakBytes >= deltaMemoryBytes(SIZE), 'the uploads held memory');
});

/** The old file's signature: DELTA_BLOCKS records up to its last block. */
async function drainSignature(session: SecureChannel): Promise<void> {
  const blocks = deltaBlockCount(SIZE, deltaBlockBytesFor(SIZE));
  for (let n = 0; n < blocks;) {
    const record = await receiveMessage(session, 'DELTA_BLOCKS');
    n = record.firstBlock + record.weak.length;
  }
}
