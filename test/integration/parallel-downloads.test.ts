// Striped downloads (PROTOCOL.md §5.13.6): `get --streams N` spreads one file's chunks over N sessions, each
// its own TCP connection, all writing one local partial; and a resume stays exact when one stream is cut.
// Real TCP on loopback through the fault proxy, which counts connections and bytes; the server's own
// events count sessions and the chunks each carried.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerEvent } from '../../src/server/index.js';
import { getFiles, type GetEvent, type GetFilesOptions } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import type { PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024;
const FILE_BYTES = 3 * 1024 * 1024 + 777;
const STREAMS = 3;

async function rig(
  t: TestContext,
  plan?: PlanFor,
): Promise<ProxiedServer & { options: GetFilesOptions; source: string; dest: string }> {
  const r = await startProxiedServer(t, 'ferry-get-streams-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    retries: 3,
    plan,
  });
  const source = join(r.root, 'big.bin');
  await writeRandomFile(source, FILE_BYTES);
  const dest = join(r.dir, 'dest');
  return {
    ...r,
    source,
    dest,
    options: {
      ...r.connect,
      remotePaths: ['big.bin'],
      localDir: dest,
      chunkBytes: CHUNK_BYTES,
      durableBatchBytes: CHUNK_BYTES,
      streams: STREAMS,
      // A few MiB stand in for the 64 MiB threshold.
      parallelMinBytes: 1024 * 1024,
    },
  };
}

/** Chunks each server session sent, from the server's own download events (bytes verified per transfer). */
function bytesPerSession(events: readonly ServerEvent[]): Map<number, number> {
  const sent = new Map<number, number>();
  for (const e of events)
    if (e.type === 'transfer-finished' && e.transfer.direction === 'download')
      sent.set(e.transfer.sessionId, (sent.get(e.transfer.sessionId) ?? 0) + e.transferredBytes);
  return sent;
}

test('a file got with 3 streams travels over 3 server sessions, each carrying chunks, and lands verified', async (t) => {
  const { proxy, options, source, dest, events } = await rig(t);
  const [result] = await getFiles(options);
  assert.equal(await sha256File(join(dest, 'big.bin')), await sha256File(source));
  assert.equal(events.filter((e) => e.type === 'session-opened').length, STREAMS);
  assert.equal(proxy.connections.length, STREAMS);
  const perSession = bytesPerSession(events);
  assert.equal(perSession.size, STREAMS, 'every session served a stripe');
  for (const bytes of perSession.values())
    assert.ok(
      bytes >= Math.floor(FILE_BYTES / STREAMS / CHUNK_BYTES - 1) * CHUNK_BYTES,
      `a stripe of ${bytes} bytes`,
    );
  assert.equal(
    [...perSession.values()].reduce((a, b) => a + b, 0),
    FILE_BYTES,
    'no chunk sent twice',
  );
  assert.equal(result!.receivedBytes, FILE_BYTES);
  // Counted at the proxy: the file once, plus record overhead, never a chunk twice.
  const wire = proxy.totalBytes('serverToClient');
  assert.ok(wire >= FILE_BYTES && wire < FILE_BYTES + 64 * 1024, `wire bytes ${wire}`);
  assert.deepEqual(await readdir(dest), ['big.bin'], 'no partial is left');
});

test('a file below the stream threshold is got over one connection', async (t) => {
  const { proxy, options, source, dest } = await rig(t);
  await getFiles({ ...options, parallelMinBytes: FILE_BYTES + 1 });
  assert.equal(await sha256File(join(dest, 'big.bin')), await sha256File(source));
  assert.equal(proxy.connections.length, 1);
});

test('a joined download stream cut mid-transfer fails the attempt; the retry resumes exactly from the held chunks', async (t) => {
  // The second connection (a joined stream of the first attempt) is reset after 300 KiB towards the client.
  const plan: PlanFor = (index) =>
    index === 1 ? { cut: { afterBytes: 300 * 1024, direction: 'serverToClient' } } : undefined;
  const { proxy, options, source, dest, events } = await rig(t, plan);
  const seen: GetEvent[] = [];
  const [result] = await getFiles({ ...options, onEvent: (e) => seen.push(e) });
  assert.equal(await sha256File(join(dest, 'big.bin')), await sha256File(source));
  assert.ok(
    seen.some((e) => e.type === 'retrying'),
    'the cut made the client retry',
  );
  assert.ok(proxy.connections.length >= 2 * STREAMS - 1, `${proxy.connections.length} connections`);
  assert.ok(events.filter((e) => e.type === 'session-opened').length >= 2 * STREAMS - 1);
  // Exact: the retry received only what the partial did not hold verified, and the two add up to the file.
  assert.ok(result!.resumedBytes > 0, 'the retry resumed from held chunks');
  assert.equal(result!.resumedBytes + result!.receivedBytes, FILE_BYTES);
  assert.deepEqual(await readdir(dest), ['big.bin'], 'no partial is left');
});

/** Bytes this process read (`rchar`: files and sockets alike; the server, the proxy and the client all run here). */
async function bytesReadByProcess(): Promise<number> {
  return Number(/^rchar: (\d+)$/m.exec(await readFile('/proc/self/io', 'utf8'))![1]);
}

test('the primary stripe`s end digest takes the chunks the other stripes sent from the hash cache: a second striped get reads the file once, as one stream does', async (t) => {
  const { options, source, dest, server } = await rig(t);
  const digest = await sha256File(source);
  await getFiles(options);
  assert.equal(await sha256File(join(dest, 'big.bin')), digest);
  // The first: the other stripes' chunks come from the cache once they recorded them, or are read (a race
  // between the stripes; at most what they sent).
  const first = server.hashCache.stripeHashedBytes;
  assert.ok(first <= FILE_BYTES - Math.floor(FILE_BYTES / STREAMS / CHUNK_BYTES) * CHUNK_BYTES, `${first}`);
  const got = async (dir: string, streams: number): Promise<number> => {
    const before = await bytesReadByProcess();
    await getFiles({
      ...options,
      localDir: join(dest, dir),
      streams,
      parallelMinBytes: streams > 1 ? 1 : FILE_BYTES + 1,
    });
    const read = (await bytesReadByProcess()) - before;
    assert.equal(await sha256File(join(dest, dir, 'big.bin')), digest);
    return read;
  };
  const oneStream = await got('one', 1);
  const striped = await got('striped', STREAMS);
  t.diagnostic(`bytes read: one stream ${oneStream}, ${STREAMS} streams ${striped}`);
  // Before, the primary read and hashed every chunk the other two stripes sent, each time: 2/3 of the file
  // more than one stream reads.
  assert.ok(
    striped < oneStream + FILE_BYTES / 3,
    `${striped} bytes read on ${STREAMS} streams, ${oneStream} on one`,
  );
  assert.equal(
    server.hashCache.stripeHashedBytes,
    first,
    'the second striped get read no chunk a second time',
  );
});
