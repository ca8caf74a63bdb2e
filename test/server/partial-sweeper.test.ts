// The partial sweeper: abandoned partial transfers are removed after partialMaxAgeMs; recent ones and ones
// a live session holds are kept. The clock is injected (`server.sweepPartials(now)`), no timer runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { sweepPartials } from '../../src/server/partial-sweeper.js';
import { BATCH_TEMPORARY_MAX_AGE_MS } from '../../src/transfer/batch-temporaries.js';
import { MemoryPartialStore } from '../../src/transfer/index.js';
import { sendFiles } from '../../src/client/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

const MAX_AGE_MS = 60_000;
const OLD_ID = 'a'.repeat(32);
const RECENT_ID = 'b'.repeat(32);

test('the sweeper removes partials older than maxAge, keeps newer ones, ones a live session holds, and files it does not own', async (t) => {
  const cleanups: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });
  const dir = await makeTempDir('ferry-sweeper-');
  cleanups.push(() => removeTempDir(dir));
  const serverIdentity = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    host: '127.0.0.1',
    port: 0,
    identity: serverIdentity,
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    durableBatchBytes: 4096,
    partialMaxAgeMs: MAX_AGE_MS,
    partialSweepIntervalMs: 0,
  });
  cleanups.push(() => server.close());
  const partialDir = join(server.root, '.ferry', 'partial');

  // A live session holds a transfer: its data stops at 40 % (the server->client direction still flows).
  const fileBytes = 256 * 1024;
  const source = join(dir, 'held.bin');
  await writeRandomFile(source, fileBytes);
  const proxy = await FaultProxy.start({
    target: server.address,
    plan: { stall: { afterBytes: fileBytes * 0.4, freeze: 'one' } },
  });
  const heldClient = sendFiles({
    server: proxy.address,
    files: [source],
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    chunkBytes: 64 * 1024,
    stallTimeoutMs: 60_000,
    retry: { retries: 0 },
  }).catch(() => undefined);
  cleanups.push(() => heldClient);
  cleanups.push(() => proxy.close());
  const connection = await proxy.connection(0);
  await connection.waitForFrames('serverToClient', 3); // handshake 2, WELCOME, PUT_ACCEPT: claimed
  await connection.stalled;
  const [heldState] = (await readdir(partialDir)).filter((n) => n.endsWith('.state'));
  assert.ok(heldState, 'the held transfer has a partial');
  const heldId = heldState.slice(0, 32);

  // Abandoned partials, written directly, with their files' mtimes set by hand.
  const now = Date.now();
  for (const [id, ageMs] of [
    [OLD_ID, 10 * MAX_AGE_MS],
    [RECENT_ID, MAX_AGE_MS / 2],
  ] as const) {
    for (const suffix of ['.part', '.state']) {
      await writeFile(join(partialDir, id + suffix), 'x');
      const when = new Date(now - ageMs);
      await utimes(join(partialDir, id + suffix), when, when);
    }
  }
  // The old one's .state.tmp (a crash mid-rewrite) goes with it; a file the sweeper does not own stays.
  await writeFile(join(partialDir, `${OLD_ID}.state.tmp`), 'x');
  await utimes(
    join(partialDir, `${OLD_ID}.state.tmp`),
    new Date(now - 10 * MAX_AGE_MS),
    new Date(now - 10 * MAX_AGE_MS),
  );
  await writeFile(join(partialDir, 'notes.txt'), 'not a partial');
  await utimes(join(partialDir, 'notes.txt'), new Date(0), new Date(0));

  assert.deepEqual(await server.sweepPartials(now), [OLD_ID]);
  const afterFirst = await readdir(partialDir);
  assert.ok(!afterFirst.some((n) => n.startsWith(OLD_ID)), `old partial gone: ${afterFirst.join(', ')}`);
  assert.ok(
    afterFirst.includes(`${RECENT_ID}.part`) && afterFirst.includes(`${RECENT_ID}.state`),
    'recent partial kept',
  );
  assert.ok(
    afterFirst.includes(`${heldId}.part`) && afterFirst.includes(`${heldId}.state`),
    'held partial kept',
  );
  assert.ok(afterFirst.includes('notes.txt'));

  // Much later: the recent one is old now too, but the held one is kept however old it looks.
  assert.deepEqual(await server.sweepPartials(now + 100 * MAX_AGE_MS), [RECENT_ID]);
  const afterSecond = await readdir(partialDir);
  assert.deepEqual(afterSecond.sort(), [`${heldId}.part`, `${heldId}.state`, 'notes.txt'].sort());
});

test('sweepPartials works through the store port: it removes what is untouched for maxAge and not held, and only that', async () => {
  let now = 1_000_000;
  const store = new MemoryPartialStore<string>({ now: () => now });
  const header = { size: 3000, mtimeMs: 0, chunkBytes: 64 * 1024 };
  for (const id of [OLD_ID, RECENT_ID, 'c'.repeat(32)]) {
    const partial = await store.open(id, header, { fresh: false, keepLog: true });
    await partial.write(0, Buffer.alloc(1024, 1));
    await partial.close();
    if (id === OLD_ID) now += MAX_AGE_MS; // the others are written a whole max age later
  }
  const removed = await sweepPartials(store, {
    maxAgeMs: MAX_AGE_MS,
    now: now + 1,
    isHeld: (id) => id === 'c'.repeat(32),
  });
  assert.deepEqual(removed, [OLD_ID]);
  assert.deepEqual((await store.list()).map((p) => p.key).sort(), [RECENT_ID, 'c'.repeat(32)]);
  // A held partial is kept however old.
  assert.deepEqual(
    await sweepPartials(store, {
      maxAgeMs: MAX_AGE_MS,
      now: now + MAX_AGE_MS,
      isHeld: (id) => id === 'c'.repeat(32),
    }),
    [RECENT_ID],
  );
});

test('the sweep also removes batch temporaries a server killed mid-batch left (by ctime, not the sent mtime), and nothing else', async (t) => {
  const dir = await makeTempDir('ferry-sweeper-batch-');
  t.after(() => removeTempDir(dir));
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    host: '127.0.0.1',
    port: 0,
    identity: generateKeyPair(),
    authorize: () => undefined,
    partialSweepIntervalMs: 0,
  });
  t.after(() => server.close());
  const partialDir = join(server.root, '.ferry', 'partial');
  // As staging leaves them: the sent file's mtime (years ago), written just now (ctime).
  const leftover = join(partialDir, 'batch-0123456789abcdef-7');
  await writeFile(leftover, 'staged bytes');
  await utimes(leftover, new Date('2001-01-01'), new Date('2001-01-01'));
  await writeFile(join(partialDir, 'batch-notours'), 'kept');
  await writeFile(join(server.root, 'batch-0123456789abcdef-8'), 'outside the partial directory');
  // Just now: the temporary may belong to a batch still arriving, whatever its mtime says.
  await server.sweepPartials(Date.now());
  assert.deepEqual((await readdir(partialDir)).sort(), ['batch-0123456789abcdef-7', 'batch-notours']);
  // An hour and more later it is a leftover.
  await server.sweepPartials(Date.now() + BATCH_TEMPORARY_MAX_AGE_MS + 1000);
  assert.deepEqual(await readdir(partialDir), ['batch-notours']);
  assert.deepEqual((await readdir(server.root)).sort(), ['.ferry', 'batch-0123456789abcdef-8']);
});
