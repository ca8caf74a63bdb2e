// The server's limits (docs/SECURITY.md "Server limits"): idle unauthenticated sockets cannot lock out an
// authorised client, one client cannot hold more sessions than allowed, and uploads that would break the
// quota or the disk reserve are refused before a byte is written. Real sockets on loopback, real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { mkdir, readFile, readdir, statfs, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { FerryServer, type ServeOptions } from '../../src/server/index.js';
import { ClientSession, sendFiles, type SendFilesOptions } from '../../src/client/index.js';
import type { SecureChannel } from '../../src/channel/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  chunkHashOf,
  fileDigest,
  type Message,
} from '../../src/protocol/index.js';
import { ERROR_CODES, isFerryError } from '../../src/errors/index.js';
import { ChunkLog } from '../../src/transfer/index.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { fillOpenPartial } from '../helpers/partial-bytes.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

interface Rig {
  server: FerryServer;
  dir: string;
  root: string;
  client: KeyPair;
  options: (files: string[]) => SendFilesOptions;
}

async function rig(
  t: TestContext,
  overrides: Partial<ServeOptions>,
  keys: { identity: KeyPair; client: KeyPair } = { identity: generateKeyPair(), client: generateKeyPair() },
): Promise<Rig> {
  const dir = await makeTempDir('ferry-limits-');
  const { identity, client } = keys;
  const root = overrides.root ?? join(dir, 'root');
  const server = await FerryServer.start({
    root,
    host: '127.0.0.1',
    port: 0,
    identity,
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    partialSweepIntervalMs: 0,
    ...overrides,
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  return {
    server,
    dir,
    root,
    client,
    options: (files) => ({
      server: server.address,
      files,
      identity: client,
      verifyServer: (key) => assert.ok(key.equals(identity.publicKey)),
      chunkBytes: 64 * 1024,
      retry: { retries: 0 },
    }),
  };
}

/** Resolves once at least `count` of `sockets` have closed. */
function closedCount(sockets: Socket[], count: number): Promise<void> {
  return new Promise((resolve) => {
    let closed = sockets.filter((s) => s.closed).length;
    if (closed >= count) return resolve();
    for (const s of sockets) {
      if (s.closed) continue;
      s.once('close', () => {
        if (++closed === count) resolve();
      });
    }
  });
}

/** Opens `count` raw sockets that never say a word, and waits until each is connected. */
async function idleSockets(
  t: TestContext,
  address: { host: string; port: number },
  count: number,
): Promise<Socket[]> {
  const sockets = Array.from({ length: count }, () => connect(address));
  t.after(() => sockets.forEach((s) => s.destroy()));
  for (const s of sockets) {
    s.on('error', () => undefined);
    // Read (and drop) whatever arrives, so a close by the server is seen as the end of the stream.
    s.resume();
  }
  await Promise.all(sockets.map((s) => once(s, 'connect')));
  return sockets;
}

test('50 idle unauthenticated sockets against a limit of 8 cannot keep an authorised client from uploading', async (t) => {
  const { server, dir, root, options } = await rig(t, { limits: { maxUnauthenticated: 8 } });
  const sockets = await idleSockets(t, server.address, 50);
  const source = join(dir, 'file.bin');
  const sha = await writeRandomFile(source, 200 * 1024);
  await sendFiles(options([source]));
  assert.equal(await sha256File(join(root, 'file.bin')), sha);
  // The oldest idle sockets were dropped to make room (42 for the idle ones alone, more for the client's own
  // connection); whichever they were (accept order is the kernel's), 42 of them see their connection closed.
  assert.ok(
    server.gate!.stats.droppedUnauthenticated >= 42,
    `dropped ${server.gate!.stats.droppedUnauthenticated}`,
  );
  await closedCount(sockets, 42);
});

test('a connection over the total limit is closed at accept without a byte read', async (t) => {
  const { server } = await rig(t, { limits: { maxConnections: 3, maxUnauthenticated: 3 } });
  const sockets = await idleSockets(t, server.address, 3);
  const extra = connect(server.address);
  extra.on('error', () => undefined);
  extra.resume(); // so the server's close is seen as the end of the stream
  t.after(() => extra.destroy());
  await once(extra, 'close');
  assert.equal(server.gate!.stats.refusedAtAccept, 1);
  assert.ok(
    sockets.every((s) => !s.destroyed),
    'the first three stay',
  );
});

test('a client over its session limit gets SERVER_BUSY, and its earlier sessions keep working', async (t) => {
  const { server, client } = await rig(t, { limits: { maxSessionsPerClient: 2 } });
  const connectOptions = { identity: client, verifyServer: () => undefined };
  const first = await ClientSession.connect(server.address, connectOptions);
  const second = await ClientSession.connect(server.address, connectOptions);
  t.after(() => [first, second].forEach((s) => s.close()));
  await Promise.all([first.welcome, second.welcome]);
  const third = await ClientSession.connect(server.address, connectOptions);
  t.after(() => third.close());
  await assert.rejects(third.welcome, (err: unknown) => isFerryError(err, 'SERVER_BUSY'));
  assert.equal(server.gate!.stats.refusedPerClient, 1);
});

test('an upload beyond the client quota is refused with QUOTA_EXCEEDED before a byte is written', async (t) => {
  const { dir, root, options } = await rig(t, { clientQuotaBytes: 100 * 1024 });
  const first = join(dir, 'first.bin');
  const second = join(dir, 'second.bin');
  await writeRandomFile(first, 60 * 1024);
  await writeRandomFile(second, 60 * 1024);
  await sendFiles(options([first]));
  await assert.rejects(sendFiles(options([second])), (err: unknown) => isFerryError(err, 'QUOTA_EXCEEDED'));
  assert.deepEqual(
    (await readdir(root)).filter((n) => n !== '.ferry'),
    ['first.bin'],
  );
  assert.deepEqual(await readdir(join(root, '.ferry', 'partial')), [], 'no partial was started');
});

test('an upload that would eat into the free-disk reserve is refused with DISK_FULL, leaving nothing behind', async (t) => {
  // A reserve larger than any disk: every upload would break it.
  const { dir, root, options } = await rig(t, { minFreeDiskBytes: Number.MAX_SAFE_INTEGER });
  const source = join(dir, 'file.bin');
  await writeRandomFile(source, 10 * 1024);
  await assert.rejects(sendFiles(options([source])), (err: unknown) => isFerryError(err, 'DISK_FULL'));
  assert.deepEqual(
    (await readdir(root)).filter((n) => n !== '.ferry'),
    [],
  );
  assert.deepEqual(await readdir(join(root, '.ferry', 'partial')), []);
});

/** An admitted raw session of `client`: the test sends any message and reads the answers. */
async function rawSession(t: TestContext, server: FerryServer, client: KeyPair): Promise<SecureChannel> {
  return openAdmittedSession(t, server.address, client);
}

const MiB = 1024 * 1024;

/** Offers `path` (`size` bytes in 1 MiB chunks, or 64 KiB ones below 1 MiB) and returns the answer's type and error code. */
async function offer(channel: SecureChannel, ref: number, path: string, size: number): Promise<string> {
  const message: Message = {
    type: 'PUT_OFFER',
    ref,
    size,
    mtimeMs: 0,
    chunkBytes: size >= MiB ? MiB : 64 * 1024,
    mode: 0o644,
    overwrite: false,
    fresh: false,
    path,
  };
  await channel.send(message);
  const reply = await channel.receive();
  assert.equal('ref' in reply ? reply.ref : undefined, ref);
  if (reply.type !== 'ERROR') return reply.type;
  const code = Object.entries(ERROR_CODES).find(([, spec]) => spec.wire === reply.code)?.[0];
  return `ERROR ${code}`;
}

/** Offers `path` and leaves its partial open on the server (CANCEL keeps it for a resume, §5.9). */
async function openPartial(channel: SecureChannel, ref: number, path: string, size: number): Promise<void> {
  assert.equal(await offer(channel, ref, path, size), 'PUT_ACCEPT');
  await channel.send({ type: 'CANCEL', ref });
}

test('every --overwrite is charged for the file it writes: a 1-byte file, then 60 KiB overwrites of it, meet a 100 KiB quota (QUOTA_EXCEEDED)', async (t) => {
  const { dir, root, options } = await rig(t, { clientQuotaBytes: 100 * 1024 });
  const tiny = join(dir, 'tiny', 'f');
  const big = join(dir, 'big', 'f');
  await Promise.all([mkdir(join(dir, 'tiny')), mkdir(join(dir, 'big'))]);
  await writeRandomFile(tiny, 1);
  const sha = await writeRandomFile(big, 60 * 1024);
  await sendFiles(options([tiny]));
  await sendFiles({ ...options([big]), overwrite: true }); // 1 + 60 KiB stored
  await assert.rejects(sendFiles({ ...options([big]), overwrite: true }), (err: unknown) =>
    isFerryError(err, 'QUOTA_EXCEEDED'),
  );
  assert.equal(await sha256File(join(root, 'f')), sha, 'the refused overwrite wrote nothing');
});

test('a partial counts against the quota until it is removed, live in full, then for its bytes on disk: a swept partial gives them back', async (t) => {
  const { server, root, client } = await rig(t, { clientQuotaBytes: 100 * 1024 });
  const channel = await rawSession(t, server, client);
  // Live: the offer's full size is promised, so a second session's offer does not fit the quota.
  assert.equal(await offer(channel, 1, 'a.bin', 80 * 1024), 'PUT_ACCEPT');
  assert.equal(
    await offer(await rawSession(t, server, client), 1, 'b.bin', 40 * 1024),
    'ERROR QUOTA_EXCEEDED',
  );
  // Let go (CANCEL keeps it for a resume, §5.9) holding 80 KiB: those bytes still count.
  await fillOpenPartial(root, 80 * 1024);
  await channel.send({ type: 'CANCEL', ref: 1 });
  assert.equal(await offer(channel, 2, 'b.bin', 40 * 1024), 'ERROR QUOTA_EXCEEDED');
  assert.equal((await server.sweepPartials(Date.now() + 48 * 3600 * 1000)).length, 1);
  assert.equal(await offer(channel, 3, 'b.bin', 40 * 1024), 'PUT_ACCEPT');
});

test('a client cannot hold more open partials than --max-partials-per-client (QUOTA_EXCEEDED); resuming one of them is fine', async (t) => {
  const { server, client } = await rig(t, { maxPartialsPerClient: 2 });
  const channel = await rawSession(t, server, client);
  await openPartial(channel, 1, 'a.bin', 4096);
  await openPartial(channel, 2, 'b.bin', 4096);
  assert.equal(await offer(channel, 3, 'c.bin', 4096), 'ERROR QUOTA_EXCEEDED');
  await openPartial(channel, 4, 'a.bin', 4096);
});

test('a promise of disk is for a live transfer: on a real 32 MiB filesystem, offers alone no longer reserve the disk once their session hangs up, nor across a restart; a resume promises the rest again', async (t) => {
  const fs = await mountSmallFilesystem(t, 32 * MiB);
  const root = join(fs, 'root');
  const keys = { identity: generateKeyPair(), client: generateKeyPair() };
  const other = generateKeyPair();
  const reserve = { root, minFreeDiskBytes: 8 * MiB };
  const first = await rig(t, reserve, keys);
  const channel = await rawSession(t, first.server, keys.client);
  // 12 MiB promised to a live sparse partial that holds no byte yet: 32 - 12 - 12 leaves less than 8 MiB.
  assert.equal(await offer(channel, 1, 'a.bin', 12 * MiB), 'PUT_ACCEPT');
  const otherSession = await rawSession(t, first.server, other);
  assert.equal(await offer(otherSession, 1, 'b.bin', 12 * MiB), 'ERROR DISK_FULL');
  // The offering session hangs up having sent nothing: its promise shrinks to what its partial holds.
  const closed = once(first.server.events, 'session-closed');
  channel.close();
  await closed;
  assert.equal(await offer(otherSession, 2, 'b.bin', 12 * MiB), 'PUT_ACCEPT');
  // A resume of a.bin promises its rest again at its offer, and is refused while b.bin's promise stands.
  const resumed = await rawSession(t, first.server, keys.client);
  assert.equal(await offer(resumed, 1, 'a.bin', 12 * MiB), 'ERROR DISK_FULL');
  resumed.close();
  otherSession.close();
  await first.server.close();

  // A new server run finds both partials on disk and counts what they hold, not what they may grow to.
  const second = await rig(t, reserve, keys);
  const again = await rawSession(t, second.server, other);
  assert.equal(await offer(again, 1, 'c.bin', 12 * MiB), 'PUT_ACCEPT');
  const ended = once(second.server.events, 'session-closed');
  again.close();
  await ended;
  // Once the sweeper removed the abandoned partials (a, b, c), the upload fills the disk only down to the reserve.
  assert.deepEqual((await second.server.sweepPartials(Date.now() + 48 * 3600 * 1000)).length, 3);
  const source = join(second.dir, 'd.bin');
  const sha = await writeRandomFile(source, 20 * MiB);
  await sendFiles({ ...second.options([source]), chunkBytes: MiB });
  assert.equal(await sha256File(join(root, 'd.bin')), sha);
  const after = await statfs(root);
  assert.ok(after.bavail * after.bsize >= 8 * MiB, `free ${after.bavail * after.bsize}`);
});

/** Bytes this process has read through read(2) and friends so far, page cache included (/proc/self/io). */
async function bytesReadByProcess(): Promise<number> {
  const io = await readFile('/proc/self/io', 'utf8');
  return Number(/^rchar: (\d+)$/m.exec(io)![1]);
}

/** A VERIFY_ONLY GET_REQUEST (PROTOCOL.md §5.11.1) in 1 MiB chunks: it states nothing about a local file. */
function verifyRequest(ref: number, path: string): Message {
  return {
    type: 'GET_REQUEST',
    ref,
    chunkBytes: MiB,
    verifyOnly: true,
    heldSize: 0,
    haveDigest: Buffer.alloc(32),
    ranges: [],
    path,
  };
}

/** The file digest of `content` (PROTOCOL.md §7.2), as a VERIFY_ONLY answer's GET_END must carry it. */
function digestOf(content: Buffer): Buffer {
  const hashes: Buffer[] = [];
  for (let at = 0; at < content.length; at += MiB) hashes.push(chunkHashOf(content.subarray(at, at + MiB)));
  return fileDigest(content.length, MiB, hashes);
}

test('256 pipelined VERIFY_ONLY requests and 64 EXISTING offers of a 2 MiB file make the server read it once, not 320 times', async (t) => {
  const { server, root, client } = await rig(t, {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
  });
  const content = randomBytes(2 * MiB);
  await writeFile(join(root, 'big.bin'), content);
  const channel = await rawSession(t, server, client);
  const digest = digestOf(content);

  const readBefore = await bytesReadByProcess();
  for (let ref = 1; ref <= 256; ref++) await channel.send(verifyRequest(ref, 'big.bin'));
  for (let ref = 1; ref <= 256; ref++) {
    const offered = await channel.receive();
    assert.ok(offered.type === 'GET_OFFER' && offered.size === content.length, `got ${offered.type}`);
    const end = await channel.receive();
    assert.ok(end.type === 'GET_END' && end.fileDigest.equals(digest), `got ${end.type}`);
  }
  for (let ref = 257; ref <= 320; ref++) {
    assert.equal(await offer(channel, ref, 'big.bin', content.length), 'PUT_ACCEPT');
    await channel.send({ type: 'CANCEL', ref });
  }
  const read = (await bytesReadByProcess()) - readBefore;
  t.diagnostic(
    `320 checks of a ${content.length}-byte file: ${read} bytes read, ${server.hashCache.hashedBytes} hashed`,
  );
  assert.equal(server.hashCache.hashedBytes, content.length);
  assert.ok(read < 2 * content.length, `the server read ${read} bytes`);
});

test('a file changed after it was hashed is never answered from the hash cache', async (t) => {
  const { server, root, client } = await rig(t, { authorize: () => ({ permissions: PERMISSION_DOWNLOAD }) });
  const before = randomBytes(2 * MiB);
  const after = randomBytes(2 * MiB);
  await writeFile(join(root, 'f.bin'), before);
  const channel = await rawSession(t, server, client);
  // The digest a VERIFY_ONLY answer offers (PROTOCOL.md §5.11.2).
  const verify = async (ref: number): Promise<string> => {
    await channel.send(verifyRequest(ref, 'f.bin'));
    assert.equal((await channel.receive()).type, 'GET_OFFER');
    const end = await channel.receive();
    assert.ok(end.type === 'GET_END', `got ${end.type}`);
    return end.fileDigest.toString('hex');
  };
  assert.equal(await verify(1), digestOf(before).toString('hex'));
  assert.equal(await verify(2), digestOf(before).toString('hex'));
  await writeFile(join(root, 'f.bin'), after); // same size, new content
  assert.equal(await verify(3), digestOf(after).toString('hex'), 'the new content, not the cached digest');
  assert.equal(await verify(4), digestOf(after).toString('hex'));
  assert.equal(server.hashCache.hashedBytes, 2 * before.length);
});

test('directories, links and empty files are not free: each counts 4 KiB against the quota, so a 40 KiB quota stops the eleventh', async (t) => {
  const { server, root, client } = await rig(t, { clientQuotaBytes: 40 * 1024 });
  const channel = await rawSession(t, server, client);
  const answer = async (message: Message): Promise<string> => {
    await channel.send(message);
    const reply = await channel.receive();
    return reply.type === 'ERROR'
      ? `ERROR ${Object.entries(ERROR_CODES).find(([, spec]) => spec.wire === reply.code)?.[0]}`
      : reply.type;
  };
  const dir = (ref: number, path: string): Message => ({
    type: 'PUT_DIR',
    ref,
    mode: 0o755,
    mtimeMs: 0,
    path,
  });
  for (let ref = 1; ref <= 4; ref++) assert.equal(await answer(dir(ref, `d${ref}`)), 'ACK');
  assert.equal(
    await answer({ type: 'PUT_LINK', ref: 5, overwrite: false, mtimeMs: 0, target: 'd1', path: 'l' }),
    'ACK',
  );
  // An empty file three new directories deep: four entries.
  assert.equal(await offer(channel, 6, 'x/y/z/empty', 0), 'PUT_ACCEPT');
  assert.equal(
    await answer({ type: 'PUT_END', ref: 6, fileDigest: fileDigest(0, 64 * 1024, []) }),
    'PUT_DONE',
  );
  assert.equal(await answer(dir(7, 'd1')), 'ACK', 'an existing directory costs nothing more');
  assert.equal(await answer(dir(8, 'd5')), 'ACK');
  assert.equal(await answer(dir(9, 'd6')), 'ERROR QUOTA_EXCEEDED');
  assert.equal(await answer(dir(10, 'a/b')), 'ERROR QUOTA_EXCEEDED');
  assert.deepEqual((await readdir(root)).filter((n) => n !== '.ferry').sort(), [
    'd1',
    'd2',
    'd3',
    'd4',
    'd5',
    'l',
    'x',
  ]);
});

test('past its burst, a client’s checks of bytes the cache does not hold wait for its hashing budget; cached checks never wait', async (t) => {
  let clock = 1_000_000;
  const waits: number[] = [];
  const { server, root, client } = await rig(t, {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
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
  const a = randomBytes(2 * MiB);
  const b = randomBytes(2 * MiB);
  await writeFile(join(root, 'a.bin'), a);
  await writeFile(join(root, 'b.bin'), b);
  const channel = await rawSession(t, server, client);
  const verify = async (ref: number, path: string): Promise<void> => {
    await channel.send(verifyRequest(ref, path));
    assert.equal((await channel.receive()).type, 'GET_OFFER');
    assert.equal((await channel.receive()).type, 'GET_END');
  };
  await verify(1, 'a.bin'); // the whole burst
  await verify(2, 'a.bin'); // cached: free
  assert.deepEqual(waits, []);
  await verify(3, 'b.bin'); // 2 MiB more at 1 MiB/s
  assert.deepEqual(waits, [2000]);
  await verify(4, 'b.bin');
  await verify(5, 'a.bin');
  assert.deepEqual(waits, [2000]);
});

test('re-offering a resumable upload pays for re-verifying the chunks its partial holds from the client’s hashing budget, unless the partial is unchanged since it closed', async (t) => {
  let clock = 1_000_000;
  const waits: number[] = [];
  const { server, client, root } = await rig(t, {
    durableBatchBytes: 64 * 1024,
    hashBudget: {
      bytesPerSecond: 64 * 1024,
      burstBytes: 1,
      now: () => clock,
      sleep: (ms) => {
        waits.push(ms);
        clock += ms;
        return Promise.resolve();
      },
    },
  });
  const channel = await rawSession(t, server, client);
  const content = randomBytes(3 * 64 * 1024);
  assert.equal(await offer(channel, 1, 'r.bin', content.length), 'PUT_ACCEPT');
  // One chunk of 64 KiB: one durable batch, announced by PROGRESS.
  for (let index = 0; index < 1; index++) {
    const data = content.subarray(index * 64 * 1024, (index + 1) * 64 * 1024);
    const half = data.length >> 1; // a 64 KiB chunk does not fit one record
    await channel.send({ type: 'PUT_DATA', ref: 1, offset: index * 64 * 1024, data: data.subarray(0, half) });
    await channel.send({
      type: 'PUT_DATA',
      ref: 1,
      offset: index * 64 * 1024 + half,
      data: data.subarray(half),
    });
    await channel.send({
      type: 'PUT_CHUNK',
      ref: 1,
      index,
      chunkHash: chunkHashOf(data),
    });
  }
  const progress = await channel.receive();
  assert.ok(progress.type === 'PROGRESS' && progress.verifiedBytes === 64 * 1024, `got ${progress.type}`);
  await channel.send({ type: 'CANCEL', ref: 1 });
  assert.deepEqual(waits, [], 'a fresh partial re-verifies nothing');
  for (let ref = 2; ref <= 4; ref++) {
    assert.equal(await offer(channel, ref, 'r.bin', content.length), 'PUT_ACCEPT');
    await channel.send({ type: 'CANCEL', ref });
  }
  // Each CANCEL closed the partial cleanly, so each offer found it unchanged and read nothing (§9.2).
  assert.deepEqual(waits, [], 'an unchanged partial is not re-hashed');
  // Without the closing record (what a crash leaves) every offer re-hashes 64 KiB at 64 KiB/s.
  const partialDir = join(root, '.ferry', 'partial');
  for (let ref = 5; ref <= 7; ref++) {
    // The server answers messages in order: the ACK of a PUT_DIR sent after the CANCEL says it was handled.
    await channel.send({ type: 'PUT_DIR', ref: ref + 100, mode: 0o755, mtimeMs: 0, path: `d${ref}` });
    const ack = await channel.receive();
    assert.equal(ack.type, 'ACK');
    const state = (await readdir(partialDir)).find((name) => name.endsWith('.state'));
    assert.ok(state, 'the partial keeps its state file');
    const logPath = join(partialDir, state);
    assert.ok((await ChunkLog.load(logPath))?.closing, 'closed with a closing record');
    const bytes = await readFile(logPath);
    await writeFile(logPath, bytes.subarray(0, bytes.length - 40));
    assert.equal(await offer(channel, ref, 'r.bin', content.length), 'PUT_ACCEPT');
    await channel.send({ type: 'CANCEL', ref });
  }
  assert.deepEqual(waits, [1000, 1000, 1000]);
});
