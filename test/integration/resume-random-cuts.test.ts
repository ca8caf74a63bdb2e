// Resume under random connection cuts: for many cut points across one transfer, the first connection is
// reset after N client->server bytes and the client resumes on a new one. Real TCP on loopback through
// the fault proxy, real files, a real server per cut point; backoff is injected, nothing sleeps.
// The seed is printed; replay a failure with FERRY_TEST_SEED=<seed>.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { sendFiles, type SendEvent, type UploadResult } from '../../src/client/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { RecordedLog } from '../helpers/recorded-log.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
/** Not a multiple of the chunk size: the last chunk is short. */
const FILE_BYTES = 256 * 1024 + 1000;
const CUT_POINTS = 50;
const REMOTE_DIR = 'in';
const FILE_NAME = 'payload.bin';

const seed = Number(process.env['FERRY_TEST_SEED'] ?? Math.floor(Math.random() * 2 ** 32));

let dir: string;
let source: string;
let sourceSha: string;
let serverIdentity: KeyPair;
let clientIdentity: KeyPair;
let proxy: FaultProxy | undefined;
let openServer: FerryServer | undefined;

before(async () => {
  dir = await makeTempDir('ferry-resume-cuts-');
  source = join(dir, FILE_NAME);
  sourceSha = await writeRandomFile(source, FILE_BYTES);
  serverIdentity = generateKeyPair();
  clientIdentity = generateKeyPair();
});

after(async () => {
  await Promise.allSettled([proxy?.close(), openServer?.close()]);
  await removeTempDir(dir);
});

async function startServer(root: string, log: RecordedLog): Promise<FerryServer> {
  openServer = await FerryServer.start({
    root,
    host: '127.0.0.1',
    port: 0,
    identity: serverIdentity,
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    durableBatchBytes: CHUNK_BYTES,
    partialSweepIntervalMs: 0,
    logger: log.logger,
  });
  return openServer;
}

/** What a reader of the final name can see: nothing, or exactly the source (PROTOCOL.md §9.3). */
async function assertOnlyCorrectFileOrNothing(root: string, when: string): Promise<void> {
  const visible = (await listTree(root)).filter((p) => !p.startsWith('.ferry'));
  const finalPath = `${REMOTE_DIR}/${FILE_NAME}`;
  for (const entry of visible) {
    assert.ok(entry === `${REMOTE_DIR}/` || entry === finalPath, `${when}: unexpected entry ${entry}`);
  }
  if (visible.includes(finalPath)) {
    const bytes = await readFile(join(root, finalPath));
    assert.equal(
      createHash('sha256').update(bytes).digest('hex'),
      sourceSha,
      `${when}: a wrong file appeared under the final name`,
    );
  }
}

test('a transfer cut at any of 50 seeded points resumes on a new connection and lands byte-identical', async (t) => {
  t.diagnostic(`seed ${seed} (replay with FERRY_TEST_SEED=${seed})`);
  const random = new SeededRandom(seed);

  // A clean run first: how many bytes a whole transfer puts on the wire client->server.
  const cleanLog = new RecordedLog();
  const cleanServer = await startServer(join(dir, 'root-clean'), cleanLog);
  proxy = await FaultProxy.start({ target: cleanServer.address });
  await sendFiles({
    server: proxy.address,
    files: [source],
    remoteDir: REMOTE_DIR,
    identity: clientIdentity,
    verifyServer: (key) => assert.ok(key.equals(serverIdentity.publicKey)),
    chunkBytes: CHUNK_BYTES,
    retry: { retries: 0 },
  });
  await cleanServer.close();
  const wholeTransferBytes = proxy.totalBytes('clientToServer');
  assert.equal(proxy.connections.length, 1);
  t.diagnostic(`a whole transfer is ${wholeTransferBytes} bytes client->server for ${FILE_BYTES} file bytes`);

  // The edges (inside the preamble, the handshake, the last record) plus seeded points in between.
  const cutPoints = new Set([1, 8, 9, 40, 120, wholeTransferBytes - 1, wholeTransferBytes - 30]);
  while (cutPoints.size < CUT_POINTS) cutPoints.add(random.int(1, wholeTransferBytes - 1));

  for (const cutAt of [...cutPoints].sort((a, b) => a - b)) {
    const root = join(dir, `root-${cutAt}`);
    const log = new RecordedLog();
    const server = await startServer(root, log);
    const first = proxy.connections.length;
    proxy.setTarget(server.address);
    proxy.setPlan((index) => (index === first ? { cut: { afterBytes: cutAt } } : undefined));
    const events: SendEvent[] = [];
    const results: UploadResult[] = await sendFiles({
      server: proxy.address,
      files: [source],
      remoteDir: REMOTE_DIR,
      identity: clientIdentity,
      verifyServer: (key) => assert.ok(key.equals(serverIdentity.publicKey)),
      chunkBytes: CHUNK_BYTES,
      onEvent: (event) => events.push(event),
      retry: {
        retries: 3,
        random: () => 0,
        // Between the attempts: once the server has seen the cut session end, look at the root.
        sleep: async () => {
          const cut = proxy!.connections[first]!;
          await cut.closed;
          const reachedServer = proxy!.connections.slice(first).filter((c) => c.upstreamConnected).length;
          await log.waitFor('session', reachedServer);
          await assertOnlyCorrectFileOrNothing(root, `cut at ${cutAt}, before the resume`);
        },
      },
    }).catch((err: unknown) => {
      throw new Error(
        `cut at ${cutAt} (seed ${seed}): ${String(err)}; events ${JSON.stringify(events.map((e) => e.type))}`,
      );
    });
    assert.equal(
      await sha256File(join(root, REMOTE_DIR, FILE_NAME)),
      sourceSha,
      `cut at ${cutAt} (seed ${seed})`,
    );
    assert.equal(results[0]!.size, FILE_BYTES);
    assert.ok(
      events.some((e) => e.type === 'retrying'),
      `cut at ${cutAt}: the client retried`,
    );
    // The resumed connections together never carry more than one whole clean transfer.
    assert.ok(
      proxy.bytesSince(first + 1, 'clientToServer') <= wholeTransferBytes,
      `cut at ${cutAt}: resumed sessions sent ${proxy.bytesSince(first + 1, 'clientToServer')} bytes, a whole transfer is ${wholeTransferBytes}`,
    );
    await server.close();
    await assertOnlyCorrectFileOrNothing(root, `cut at ${cutAt}, after success`);
    await removeTempDir(root);
  }
});
