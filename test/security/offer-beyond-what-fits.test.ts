// A hostile server names the size of every file it offers (GET_OFFER, PROTOCOL.md §5.11.2), and the client's
// progress watchdog lets a server that answers with KEEPALIVE alone wait for as long as hashing that size may
// take (16 s per GiB: src/client/progress-watchdog.ts). The watchdog's bound rested on the client refusing an
// offer larger than it can take, which no code did: a server offering a file larger than the disk (or, to a
// VERIFY_ONLY get, larger than the local file it is compared with) and then only keepalives held a `get` for
// hours, and an offer of more chunks than a transfer may have (2^20, §10) made the client allocate a chunk
// table of any size. Now the client refuses such an offer at once. Real Noise sessions on loopback (a hostile
// server with its own key); the client's progress clock is injected and moves 1 s per message received, so
// nothing sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, statfs, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES, isFerryError } from '../../src/errors/index.js';
import { getFiles, syncTree } from '../../src/client/index.js';
import { LEAF_BYTES, MAX_TRANSFER_CHUNKS, MIN_CHUNK_BYTES, type Message } from '../../src/protocol/index.js';
import { FakeFerryServer } from '../helpers/fake-ferry-server.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { file } from './hostile-server.js';

/** The client's base progress timeout in these tests. */
const BASE_MS = 10_000;
/** KEEPALIVEs the server sends after its offer: 100 s on the client's clock, ten times its base timeout. */
const KEEPALIVES = 100;

/** Offers `size` for every GET_REQUEST, then sends only KEEPALIVEs, then gives up with QUOTA_EXCEEDED. */
class HugeOfferServer extends FakeFerryServer {
  size = 0;
  /** What a recursive listing shows (sync's plan), relative to the listed path. */
  entries = [file('f.bin', 10)];
  clockMs = 0;

  static async start(): Promise<HugeOfferServer> {
    const server = new HugeOfferServer();
    await server.listen();
    return server;
  }

  protected override async answer(channel: SecureChannel, message: Message): Promise<void> {
    if (message.type === 'LIST_REQUEST') {
      const self = message.selfOnly ?? false;
      if (!self) await channel.send({ type: 'LIST_ENTRIES', ref: message.ref, entries: this.entries });
      await channel.send({
        type: 'LIST_END',
        ref: message.ref,
        totalEntries: self ? 0 : this.entries.length,
        isFile: self && message.path !== '',
        mode: 0o755,
        mtimeMs: 1_700_000_000_000,
      });
      return;
    }
    if (message.type !== 'GET_REQUEST') return;
    const { ref } = message;
    const signature = message.signature === true;
    await channel.send({
      type: 'GET_OFFER',
      ref,
      size: this.size,
      mtimeMs: 0,
      mode: 0o644,
      heldAccepted: false,
      ...(signature ? { signature } : {}),
    });
    // A delta download's answer (PROTOCOL.md §5.17.2): the signature's first record, in leaves.
    if (signature)
      await channel.send({
        type: 'DELTA_BLOCKS',
        ref,
        oldSize: this.size,
        blockBytes: LEAF_BYTES,
        firstBlock: 0,
        weak: new Uint32Array([1]),
        strong: Buffer.alloc(16, 7),
      });
    for (let i = 0; i < KEEPALIVES; i++) await channel.send({ type: 'KEEPALIVE' });
    await channel.send({ type: 'ERROR', ref, code: ERROR_CODES.QUOTA_EXCEEDED.wire, detail: 'kept alive' });
  }
}

function clientOptions(server: HugeOfferServer) {
  return {
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0 },
    progressTimeoutMs: BASE_MS,
    progressClock: () => (server.clockMs += 1000),
  };
}

async function failure(work: Promise<unknown>): Promise<string> {
  return work.then(
    () => 'resolved',
    (err: unknown) => (isFerryError(err) ? err.code : String(err)),
  );
}

async function rig(t: test.TestContext): Promise<{ server: HugeOfferServer; work: string; free: number }> {
  const server = await HugeOfferServer.start();
  const work = await makeTempDir('ferry-huge-offer-');
  t.after(async () => {
    await server.close();
    await removeTempDir(work);
  });
  const stats = await statfs(work);
  return { server, work, free: stats.bavail * stats.bsize };
}

test('a download offered more bytes than the disk holds is refused at the offer (DISK_FULL), not waited for through keepalives', async (t) => {
  const { server, work, free } = await rig(t);
  // Within the chunk limit at the client's 4 MiB chunks (4 TiB), beyond what the disk can take.
  server.size = free + 2 ** 30;
  assert.ok(server.size <= MAX_TRANSFER_CHUNKS * 4 * 2 ** 20, `free disk ${free} beyond this test's reach`);
  const code = await failure(getFiles({ ...clientOptions(server), remotePaths: ['f.bin'], localDir: work }));
  assert.equal(code, 'DISK_FULL');
  // Refused at the offer: before, the client waited through every keepalive (its allowance was hours) for
  // the server's late QUOTA_EXCEEDED, with a sparse partial of the offered size made; now nothing is made.
  assert.deepEqual(await readdir(work), []);
});

test('a delta download offered more bytes than the disk holds is refused at the offer, before its scan makes a partial', async (t) => {
  const { server } = await rig(t);
  // A 16 MiB file system holding an old file of 2 KiB: replacing it with --overwrite is a delta download.
  const dest = await mountSmallFilesystem(t, 16 * 2 ** 20);
  await writeFile(join(dest, 'f.bin'), Buffer.alloc(2048, 1));
  server.size = 2 ** 30;
  const code = await failure(
    getFiles({ ...clientOptions(server), remotePaths: ['f.bin'], localDir: dest, overwrite: true }),
  );
  assert.equal(code, 'DISK_FULL');
  assert.equal(
    server.received.some((m) => m.type === 'GET_REQUEST' && m.signature === true),
    true,
    'a signature was asked for',
  );
  // Before, the scan opened the download's partial (a sparse file of the offered 1 GiB) at the first
  // signature record, and the client waited through every keepalive for the server's late QUOTA_EXCEEDED.
  assert.deepEqual(await readdir(dest), ['f.bin']);
});

test('an offer of more chunks than a transfer may have (2^20 of the asked size) is MESSAGE_MALFORMED at once', async (t) => {
  const { server, work } = await rig(t);
  server.size = MAX_TRANSFER_CHUNKS * MIN_CHUNK_BYTES + 1;
  const code = await failure(
    getFiles({
      ...clientOptions(server),
      remotePaths: ['f.bin'],
      localDir: work,
      chunkBytes: MIN_CHUNK_BYTES,
    }),
  );
  assert.equal(code, 'MESSAGE_MALFORMED');
  assert.deepEqual(await readdir(work), []);
});

test('compared with a local file (VERIFY_ONLY), an offer of another size decides at once, and nothing goes back', async (t) => {
  const { server, work } = await rig(t);
  await writeFile(join(work, 'f.bin'), 'ten bytes\n');
  server.size = 2 ** 40;
  const code = await failure(getFiles({ ...clientOptions(server), remotePaths: ['f.bin'], localDir: work }));
  assert.equal(code, 'FILE_EXISTS');
  // PROTOCOL.md §5.11.1: the outcome is the client's alone, no CANCEL tells it.
  assert.deepEqual(
    server.received.filter((m) => m.type === 'CANCEL'),
    [],
  );
});

test('`sync --checksum` asks a digest for a file of the listed size: an offer of another size is a difference at once', async (t) => {
  const { server, work, free } = await rig(t);
  const dst = join(work, 'dst');
  await mkdir(dst);
  // The listed size and mtime, so only the digest can tell; the offers are beyond the disk as well.
  await writeFile(join(dst, 'f.bin'), 'ten bytes\n');
  await utimes(join(dst, 'f.bin'), 1_700_000_000, 1_700_000_000);
  server.size = Math.max(free + 2 ** 30, 2 ** 40);
  const code = await failure(
    syncTree({
      ...clientOptions(server),
      localDir: dst,
      remotePath: 'src',
      direction: 'download',
      checksum: true,
    }),
  );
  // The digest asked for is decided by the offer's size, not waited for: what the server sends after it is
  // then work for no ref, and its keepalives are no longer covered by the offer's hours (NO_PROGRESS after
  // the base timeout; or the download that follows is refused for the disk). Before: the client waited
  // through every keepalive, twice, for the server's late QUOTA_EXCEEDED.
  assert.ok(code === 'NO_PROGRESS' || code === 'DISK_FULL', code);
  const asked = server.received.flatMap((m) => (m.type === 'GET_REQUEST' ? [m.verifyOnly] : []));
  assert.equal(asked[0], true);
});
