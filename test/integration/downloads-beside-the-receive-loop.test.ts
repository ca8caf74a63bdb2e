// Downloads are sent one at a time in arrival order beside the server's receive loop (PROTOCOL.md §5.11.4),
// so the session keeps reading while a file streams: a listing is answered at once and a CANCEL stops a
// download at its next record (§5.9), which the client sends when it gives a download up. A raw client (and
// the library's, for the last test) on loopback against a real server and real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import type { SecureChannel } from '../../src/channel/index.js';
import { toFerryError } from '../../src/errors/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD, type Message } from '../../src/protocol/index.js';
import type { FerryServer, ServerEvent } from '../../src/server/index.js';
import { ClientSession, beginDownload } from '../../src/client/index.js';
import { resolveUnderRoot } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { writeRandomFile } from '../helpers/random-file.js';

const BIG_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 4 * 1024 * 1024;

interface Rig {
  identity: KeyPair;
  server: FerryServer;
  channel: SecureChannel;
  bigSha256: string;
}

async function startRig(t: TestContext): Promise<Rig> {
  const identity = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-downloads-beside-', {
    authorize: (key) =>
      key.equals(identity.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
  });
  const root = join(dir, 'root');
  await mkdir(join(root, 'docs'), { recursive: true });
  await writeFile(join(root, 'docs', 'small.txt'), 'small file');
  const bigSha256 = await writeRandomFile(join(root, 'big.bin'), BIG_BYTES);
  const channel = await openAdmittedSession(t, server.address, identity);
  return { identity, server, channel, bigSha256 };
}

function getRequest(ref: number, path: string): Message {
  return {
    type: 'GET_REQUEST',
    ref,
    chunkBytes: CHUNK_BYTES,
    verifyOnly: false,
    heldSize: 0,
    haveDigest: Buffer.alloc(32),
    ranges: [],
    path,
  };
}

function refOf(message: Message): number {
  return 'ref' in message ? message.ref : 0;
}

test('a listing asked for while a 64 MiB download streams is answered before the download ends, and the download is intact', async (t) => {
  const { channel, bigSha256 } = await startRig(t);
  await channel.send(getRequest(1, 'big.bin'));
  const order: string[] = [];
  const received = createHash('sha256');
  let receivedBytes = 0;
  for (;;) {
    const message = await channel.receive();
    assert.notEqual(message.type, 'ERROR', `unexpected ERROR for ref ${refOf(message)}`);
    if (message.type === 'GET_DATA') {
      // Asked once the download streams (asked with it, the listing of a small tree was answered before the
      // download's GET_OFFER once the server's walk took its calls on its own thread, stop 45).
      if (receivedBytes === 0)
        await channel.send({ type: 'LIST_REQUEST', ref: 2, recursive: true, selfOnly: false, path: '' });
      received.update(message.data);
      receivedBytes += message.data.length;
    } else if (message.type !== 'GET_CHUNK' && message.type !== 'LIST_ENTRIES') {
      order.push(`${message.type} ${refOf(message)}`);
    }
    if (message.type === 'GET_END') break;
  }
  assert.deepEqual(order, ['GET_OFFER 1', 'LIST_END 2', 'GET_END 1']);
  assert.equal(receivedBytes, BIG_BYTES);
  assert.equal(received.digest('hex'), bigSha256);
});

test('a CANCEL stops a 64 MiB download at its next record: no GET_END for it, and the next download follows at once', async (t) => {
  const { server, channel } = await startRig(t);
  const failed: ServerEvent[] = [];
  server.events.on('transfer-failed', (event) => failed.push(event));
  await channel.send(getRequest(1, 'big.bin'));
  let cancelledBytes = 0;
  // Cancel once the file is streaming.
  for (;;) {
    const message = await channel.receive();
    assert.equal(refOf(message), 1);
    if (message.type === 'GET_DATA') {
      cancelledBytes += message.data.length;
      break;
    }
  }
  await channel.send({ type: 'CANCEL', ref: 1 });
  await channel.send(getRequest(2, 'docs/small.txt'));
  const afterCancel: string[] = [];
  for (;;) {
    const message = await channel.receive();
    if (refOf(message) === 1) {
      // Records already on their way when the CANCEL arrived; nothing that ends the download.
      assert.ok(message.type === 'GET_DATA' || message.type === 'GET_CHUNK', `${message.type} for ref 1`);
      if (message.type === 'GET_DATA') cancelledBytes += message.data.length;
      continue;
    }
    afterCancel.push(message.type);
    if (message.type === 'GET_END' || message.type === 'ERROR') break;
  }
  assert.deepEqual(afterCancel, ['GET_OFFER', 'GET_DATA', 'GET_CHUNK', 'GET_END']);
  t.diagnostic(`${cancelledBytes} of ${BIG_BYTES} bytes sent for the cancelled download`);
  assert.ok(cancelledBytes < BIG_BYTES / 2, `${cancelledBytes} bytes of the cancelled download were sent`);
  // The server reports the download as ended by the client (ABORTED), not as finished.
  assert.deepEqual(
    failed.map((event) => event.type === 'transfer-failed' && [event.transfer.path, event.code]),
    [['big.bin', 'ABORTED']],
  );
});

test('a CANCEL of a download still queued behind another means it never starts: nothing at all is sent for its ref', async (t) => {
  const { channel } = await startRig(t);
  await channel.send(getRequest(1, 'big.bin'));
  await channel.send(getRequest(2, 'docs/small.txt'));
  await channel.send({ type: 'CANCEL', ref: 2 });
  await channel.send(getRequest(3, 'docs/small.txt'));
  const ends: number[] = [];
  for (;;) {
    const message = await channel.receive();
    assert.notEqual(refOf(message), 2, `${message.type} for the cancelled ref 2`);
    assert.notEqual(message.type, 'ERROR');
    if (message.type === 'GET_END') ends.push(message.ref);
    if (message.type === 'GET_END' && message.ref === 3) break;
  }
  assert.deepEqual(ends, [1, 3]);
});

test('a session that ends while a download streams closes cleanly on the server (the download stops, the session is reported closed)', async (t) => {
  const { server, channel } = await startRig(t);
  const closed = once(server.events, 'session-closed');
  await channel.send(getRequest(1, 'big.bin'));
  for (;;) if ((await channel.receive()).type === 'GET_DATA') break;
  channel.close();
  const [event] = (await closed) as [Extract<ServerEvent, { type: 'session-closed' }>];
  assert.ok(event.bytesSent < BIG_BYTES, `${event.bytesSent} bytes counted as sent`);
});

test('a client whose disk fills up mid-download cancels it, so the server stops sending the file instead of streaming it all', async (t) => {
  const { identity, server } = await startRig(t);
  const full = await mountSmallFilesystem(t, 8 * 1024 * 1024);
  const roomy = await makeTempDir('ferry-downloads-beside-dest-');
  t.after(() => removeTempDir(roomy));
  const ended: string[] = [];
  server.events.on('transfer-failed', (event) => ended.push(`${event.transfer.path} ${event.code}`));
  server.events.on('transfer-finished', (event) => ended.push(`${event.transfer.path} finished`));
  const session = await ClientSession.connect(server.address, { identity, verifyServer: () => undefined });
  t.after(() => session.close());
  const big = await beginDownload(
    session,
    'big.bin',
    await resolveUnderRoot(full, ['big.bin'], { createDirs: false }),
    { chunkBytes: CHUNK_BYTES },
  );
  await assert.rejects(big.done, (err: unknown) => toFerryError(err).code === 'DISK_FULL');
  // Downloads are sent in order: once the next one is done, the server has ended the first one.
  const small = await beginDownload(
    session,
    'docs/small.txt',
    await resolveUnderRoot(roomy, ['small.txt'], { createDirs: false }),
  );
  assert.equal((await small.done).size, 'small file'.length);
  assert.deepEqual(ended, ['big.bin ABORTED', 'docs/small.txt finished']);
});
