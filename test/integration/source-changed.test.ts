// A file that changes while it is sent fails with SOURCE_CHANGED on both sides (PROTOCOL.md §5.6.1), in both
// directions, even when the writer keeps the size and puts the mtime back: the chunk hashes describe the
// bytes as read, so only the sender's check of the file's identity (dev, inode, size, mtime, ctime) can tell.
// Real server on loopback, real files; the change is made from an event of the transfer itself.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { lstat, mkdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { FerryServer, type ServerEvent } from '../../src/server/index.js';
import { getFiles, sendFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { rewriteKeepingSizeAndMtime } from '../helpers/rewrite-keeping-size-and-mtime.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const FILE_BYTES = 16 * CHUNK_BYTES + 123;
/** A whole second, so putting the mtime back is exact to the nanosecond. */
const MTIME_S = 1_700_000_000;

interface Rig {
  dir: string;
  root: string;
  server: FerryServer;
  connect: { server: { host: string; port: number }; identity: ReturnType<typeof generateKeyPair> };
}

async function startRig(t: TestContext): Promise<Rig> {
  const { dir, server } = await startTempDirServer(t, 'ferry-source-changed-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
  });
  return { dir, root: server.root, server, connect: { server: server.address, identity: generateKeyPair() } };
}

const common = {
  verifyServer: (): void => undefined,
  retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
  chunkBytes: CHUNK_BYTES,
};

function failedCode(events: ServerEvent[]): string | undefined {
  for (const event of events) if (event.type === 'transfer-failed') return event.code;
  return undefined;
}

test('an upload whose source is rewritten in place after the send began fails with SOURCE_CHANGED at the client and at the server', async (t) => {
  const rig = await startRig(t);
  const source = join(rig.dir, 'live.bin');
  await writeRandomFile(source, FILE_BYTES);
  await utimes(source, MTIME_S, MTIME_S);
  const failed = once(rig.server.events, 'transfer-failed');
  const err = await sendFiles({
    ...rig.connect,
    ...common,
    files: [source],
    // After the offer was accepted and before the first chunk is read: the file is open, its identity taken.
    onEvent: (event) => {
      if (event.type === 'transfer-started') rewriteKeepingSizeAndMtime(source, 3 * CHUNK_BYTES, MTIME_S);
    },
  }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.equal((err as { code?: string } | undefined)?.code, 'SOURCE_CHANGED', String(err));
  const [event] = (await failed) as [ServerEvent];
  assert.equal(failedCode([event]), 'SOURCE_CHANGED', 'the server was told why, not left with INTERNAL');
  await assert.rejects(lstat(join(rig.root, 'live.bin')), { code: 'ENOENT' });
});

test('a download whose source is rewritten on the server between chunks fails with SOURCE_CHANGED at the client and at the server', async (t) => {
  const rig = await startRig(t);
  const served = join(rig.root, 'live.bin');
  await mkdir(rig.root, { recursive: true });
  await writeRandomFile(served, FILE_BYTES);
  await utimes(served, MTIME_S, MTIME_S);
  const events: ServerEvent[] = [];
  let rewritten = false;
  rig.server.events.on('event', (event) => {
    events.push(event);
    // Right after the first chunk went out: the rest of the file is read after this change.
    if (event.type === 'progress' && !rewritten) {
      rewritten = true;
      rewriteKeepingSizeAndMtime(served, 10 * CHUNK_BYTES, MTIME_S);
    }
  });
  const failed = once(rig.server.events, 'transfer-failed');
  const dest = join(rig.dir, 'dest');
  await mkdir(dest);
  const err = await getFiles({ ...rig.connect, ...common, remotePaths: ['live.bin'], localDir: dest }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(rewritten, 'the change happened during the send');
  assert.equal((err as { code?: string } | undefined)?.code, 'SOURCE_CHANGED', String(err));
  assert.equal((err as { remote?: boolean }).remote, true, 'the server said so on the wire');
  await failed;
  assert.equal(failedCode(events), 'SOURCE_CHANGED');
  await assert.rejects(lstat(join(dest, 'live.bin')), { code: 'ENOENT' });
});

test('a client ERROR SOURCE_CHANGED for its open upload ends that transfer on the server, which records the code and goes on with the session', async (t) => {
  const rig = await startRig(t);
  const channel = await openAdmittedSession(t, rig.server.address, rig.connect.identity);
  const offer = (ref: number) =>
    ({
      type: 'PUT_OFFER',
      ref,
      size: 2 * CHUNK_BYTES,
      mtimeMs: 0,
      chunkBytes: CHUNK_BYTES,
      mode: 0o644,
      overwrite: false,
      fresh: false,
      path: `f${ref}.bin`,
    }) as const;
  const failed = once(rig.server.events, 'transfer-failed');
  await channel.send(offer(1));
  assert.equal((await channel.receive()).type, 'PUT_ACCEPT');
  await channel.send({ type: 'PUT_DATA', ref: 1, offset: 0, data: Buffer.alloc(100) });
  await channel.send({
    type: 'ERROR',
    ref: 1,
    code: ERROR_CODES.SOURCE_CHANGED.wire,
    detail: 'size 8192 -> 1',
  });
  const [event] = (await failed) as [ServerEvent];
  assert.equal(failedCode([event]), 'SOURCE_CHANGED');
  // The transfer is over, the session is not: the next offer is answered (not "PUT_OFFER while open").
  await channel.send(offer(2));
  const next = await channel.receive();
  assert.equal(next.type, 'PUT_ACCEPT', JSON.stringify(next));
});
