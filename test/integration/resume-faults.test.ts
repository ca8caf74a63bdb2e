// Transfers that survive a bad network, and resumes that stay honest: corrupted records, stalls, changed
// partials and sources, takeover, the client's hash cache, and progress reports. Real TCP on loopback
// through the fault proxy, real files in temp dirs; backoff is injected, nothing sleeps on a timer except
// the one stall test, whose whole point is the client's 300 ms stall watchdog.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, stat, utimes } from 'node:fs/promises';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FerryServer } from '../../src/server/index.js';
import {
  sendFiles,
  type SendEvent,
  type SendFilesOptions,
  type UploadResult,
} from '../../src/client/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { ChunkLog } from '../../src/transfer/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { FaultProxy, type FaultPlan, type PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer } from '../helpers/proxied-server.js';
import { RecordedLog } from '../helpers/recorded-log.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const FILE_BYTES = 256 * 1024 + 1000;
/**
 * The file of the tests that count the chunks a cut session left held: 16 whole chunks and a short one. The cut is an RST, and what the
 * proxy had not yet handed to the server is lost with it (as are the chunks not yet made durable); at 4 chunks
 * (FILE_BYTES) a cut at a half left at most one chunk whole, often none held, and nothing to check.
 */
const CUT_FILE_BYTES = 16 * CHUNK_BYTES + 1000;
const CUT_CHUNKS = Math.ceil(CUT_FILE_BYTES / CHUNK_BYTES);
const FILE_NAME = 'payload.bin';

/**
 * Record sizes on the wire (PROTOCOL.md §3.1, §4, §5): a u16 length, the message, a 16-byte tag.
 * Server->client a fresh transfer starts with the version answer and handshake message 2
 * (8 + 2 + 32 + 1104 + 48 + 16), WELCOME
 * (2 + 10 + 16) and PUT_ACCEPT without ranges (2 + 40 + 16); then one PROGRESS (2 + 13 + 16) per durable batch.
 */
const HS2_BYTES = 1210;
const WELCOME_RECORD_BYTES = 28;
const EMPTY_ACCEPT_RECORD_BYTES = 58;
const PROGRESS_RECORD_BYTES = 31;
/**
 * Per chunk client->server: PUT_DATA (2 + 13 + 16 + data) twice (a 64 KiB chunk is more than one record
 * carries, MAX_PUT_DATA_BYTES) and PUT_CHUNK (2 + 41 + 16).
 */
const CHUNK_OVERHEAD_BYTES = 2 * 31 + 59;
/**
 * Per session client->server, generously: version offer and handshake 1 and 3 (10 + 1218 + 71), PUT_OFFER,
 * PUT_END.
 */
const SESSION_OVERHEAD_BYTES = 2048;

interface Rig {
  dir: string;
  root: string;
  server: FerryServer;
  proxy: FaultProxy;
  log: RecordedLog;
  source: string;
  sourceSha: string;
  /** Where the file lands. */
  finalPath: string;
  /** Options for `sendFiles` through the proxy; `overrides` win. */
  options(overrides?: Partial<SendFilesOptions>): SendFilesOptions;
  /** Waits until every session that reached the server so far has been closed by it. */
  serverCaughtUp(): Promise<void>;
}

/** A server, a proxy in front of it and a source file; all closed and removed after the test. */
async function rig(t: TestContext, plan?: FaultPlan | PlanFor, fileBytes = FILE_BYTES): Promise<Rig> {
  const log = new RecordedLog();
  const { dir, root, server, proxy, connect } = await startProxiedServer(t, 'ferry-resume-faults-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    durableBatchBytes: CHUNK_BYTES,
    logger: log.logger,
    retries: 3,
    plan,
  });
  const source = join(dir, FILE_NAME);
  const sourceSha = await writeRandomFile(source, fileBytes);
  return {
    dir,
    root,
    server,
    proxy,
    log,
    source,
    sourceSha,
    finalPath: join(root, FILE_NAME),
    options: (overrides = {}) => ({ ...connect, files: [source], chunkBytes: CHUNK_BYTES, ...overrides }),
    serverCaughtUp: async () => {
      await Promise.all(proxy.connections.map((c) => c.closed));
      await log.waitFor('session', proxy.connections.filter((c) => c.upstreamConnected).length);
    },
  };
}

/** Events of one `sendFiles` run. */
function recorder(): {
  events: SendEvent[];
  onEvent: (event: SendEvent) => void;
  of<T extends SendEvent['type']>(type: T): Extract<SendEvent, { type: T }>[];
} {
  const events: SendEvent[] = [];
  return {
    events,
    onEvent: (event) => events.push(event),
    of: <T extends SendEvent['type']>(type: T) =>
      events.filter((e): e is Extract<SendEvent, { type: T }> => e.type === type),
  };
}

/** The chunk indices a partial's state log vouches for (PROTOCOL.md §9.2). */
async function loggedChunks(root: string): Promise<{ state: string; part: string; indices: number[] }> {
  const partialDir = join(root, '.ferry', 'partial');
  const states = (await readdir(partialDir)).filter((n) => n.endsWith('.state'));
  assert.equal(states.length, 1, `one partial expected, found ${states.join(', ')}`);
  const state = join(partialDir, states[0]!);
  const log = await ChunkLog.load(state);
  assert.ok(log, 'the state log loads');
  const indices = [...new Set(log.entries.map((e) => e.index))].sort((a, b) => a - b);
  return { state, part: state.replace(/\.state$/, '.part'), indices };
}

function chunkLengthOf(index: number, size = FILE_BYTES): number {
  return Math.min(CHUNK_BYTES, size - index * CHUNK_BYTES);
}

test('a bit flipped in a server record after the handshake fails authentication (DECRYPT_FAILED), and the client reconnects and finishes', async (t) => {
  // Inside the third PROGRESS record: mid-transfer, after handshake, WELCOME and PUT_ACCEPT.
  const offset =
    HS2_BYTES + WELCOME_RECORD_BYTES + EMPTY_ACCEPT_RECORD_BYTES + 2 * PROGRESS_RECORD_BYTES + 10;
  const r = await rig(t, (i) => (i === 0 ? { flipBit: { direction: 'serverToClient', offset } } : undefined));
  const run = recorder();
  await sendFiles(
    r.options({
      onEvent: run.onEvent,
      retry: { retries: 3, random: () => 0, sleep: () => r.serverCaughtUp() },
    }),
  );
  assert.deepEqual(
    run.of('retrying').map((e) => e.code),
    ['DECRYPT_FAILED'],
  );
  assert.equal(r.proxy.connections.length, 2, 'one new connection after the corrupted one');
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
});

test('a bit flipped in a client record makes the server drop the session, and the resumed transfer is byte-identical', async (t) => {
  // Well inside the file data of the first connection: the server must never store the corrupted chunk.
  const r = await rig(t, (i) =>
    i === 0 ? { flipBit: { direction: 'clientToServer', offset: 100_000, bit: 3 } } : undefined,
  );
  const run = recorder();
  // Between the attempts the server catches up: it reads up to the corrupted record and drops the session.
  await sendFiles(
    r.options({
      onEvent: run.onEvent,
      retry: { retries: 3, random: () => 0, sleep: () => r.serverCaughtUp() },
    }),
  );
  assert.equal(run.of('retrying').length, 1, JSON.stringify(run.of('retrying')));
  assert.equal(
    run.of('retrying')[0]!.code,
    'CONNECTION_CLOSED',
    'the server ends the session without an ERROR (PROTOCOL.md §4.2)',
  );
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
  const resumed = run.of('transfer-started')[1]!;
  assert.ok(
    resumed.heldBytes > 0 && resumed.heldBytes < 100_000,
    `resumed from ${resumed.heldBytes}, before the corrupted record`,
  );
});

test('a stalled connection is dropped after stallTimeoutMs (STALLED) and the transfer completes on a new one', async (t) => {
  const r = await rig(t, (i) => (i === 0 ? { stall: { afterBytes: 120_000 } } : undefined));
  const run = recorder();
  await sendFiles(r.options({ onEvent: run.onEvent, stallTimeoutMs: 1000 }));
  await r.proxy.connections[0]!.stalled;
  // The watchdog is a real timer: on a machine loaded enough, a healthy session can also go a second
  // without a byte and be retried; each retry is still STALLED, one new connection each, and resumes.
  const codes = run.of('retrying').map((e) => e.code);
  assert.ok(codes.length >= 1 && codes.every((code) => code === 'STALLED'), codes.join());
  assert.equal(r.proxy.connections.length, codes.length + 1);
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
  // The stalled session still holds the transfer on the server: the new one took it over and resumed.
  assert.ok(
    run.of('transfer-started')[1]!.heldBytes > 0,
    "resumed from the stalled session's durable chunks",
  );
});

test('a transfer re-fragmented into 7-byte writes both ways lands intact', async (t) => {
  const r = await rig(t, { fragmentBytes: 7 }, 64 * 1024 + 3);
  await sendFiles(r.options({ retry: { retries: 0 } }));
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
  assert.equal(r.proxy.connections.length, 1);
});

test("a chunk changed on disk behind the server's back is dropped from the held set and sent again", async (t) => {
  const cutAt = Math.floor(CUT_FILE_BYTES * 0.6);
  const r = await rig(t, (i) => (i === 0 ? { cut: { afterBytes: cutAt } } : undefined), CUT_FILE_BYTES);
  let tampered = -1;
  let heldBeforeTamper: number[] = [];
  const run = recorder();
  await sendFiles(
    r.options({
      onEvent: run.onEvent,
      retry: {
        retries: 3,
        random: () => 0,
        sleep: async () => {
          await r.serverCaughtUp();
          const { part, indices } = await loggedChunks(r.root);
          heldBeforeTamper = indices;
          tampered = indices[Math.floor(indices.length / 2)]!;
          // Flip bits inside an already verified, durable chunk of the partial.
          const handle = await open(part, 'r+');
          try {
            const byte = Buffer.alloc(1);
            await handle.read(byte, 0, 1, tampered * CHUNK_BYTES + 100);
            byte[0]! ^= 0xff;
            await handle.write(byte, 0, 1, tampered * CHUNK_BYTES + 100);
          } finally {
            await handle.close();
          }
        },
      },
    }),
  );
  // About 9 of its 17 chunks crossed before the cut; all but the one in flight are verified and durable.
  assert.ok(
    heldBeforeTamper.length > CUT_CHUNKS / 4,
    `the cut session left ${heldBeforeTamper.length} durable chunks`,
  );
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
  const heldBytes = heldBeforeTamper.reduce((sum, i) => sum + chunkLengthOf(i, CUT_FILE_BYTES), 0);
  const resumed = run.of('transfer-started')[1]!;
  assert.equal(
    resumed.heldBytes,
    heldBytes - chunkLengthOf(tampered, CUT_FILE_BYTES),
    'PUT_ACCEPT left out exactly the tampered chunk',
  );
  assert.equal(resumed.restarted, false);
  // Counted on the wire: the resumed session carried the missing chunks plus the tampered one, no more.
  const missing = CUT_FILE_BYTES - heldBytes + chunkLengthOf(tampered, CUT_FILE_BYTES);
  const resumedWire = r.proxy.bytesSince(1, 'clientToServer');
  assert.ok(resumedWire >= missing, `resumed session sent ${resumedWire} bytes, at least ${missing} needed`);
  const bound =
    missing + (CUT_CHUNKS - heldBeforeTamper.length + 1) * CHUNK_OVERHEAD_BYTES + SESSION_OVERHEAD_BYTES;
  assert.ok(resumedWire <= bound, `resumed session sent ${resumedWire} bytes, bound ${bound}`);
});

for (const sameMtime of [false, true]) {
  const how = sameMtime
    ? 'with the same mtime (the held-digest check of PROTOCOL.md §5.4 catches it)'
    : 'with a new mtime (the server discards the partial: RESTARTED)';
  test(`a source rewritten between attempts ${how} restarts from zero and lands as the new content`, async (t) => {
    // CUT_FILE_BYTES: the cut must leave chunks held, or the second attempt is fresh, not a restart.
    const r = await rig(
      t,
      (i) => (i === 0 ? { cut: { afterBytes: Math.floor(CUT_FILE_BYTES / 2) } } : undefined),
      CUT_FILE_BYTES,
    );
    const { mtime } = await stat(r.source);
    let newSha = '';
    const run = recorder();
    await sendFiles(
      r.options({
        onEvent: run.onEvent,
        cacheDir: join(r.dir, 'cache'),
        retry: {
          retries: 3,
          random: () => 0,
          sleep: async () => {
            await r.serverCaughtUp();
            newSha = await writeRandomFile(r.source, CUT_FILE_BYTES);
            // In seconds, at the middle of the millisecond: utimes goes through a double, and the offer
            // carries whole milliseconds, so an exact Date could round down to the previous one.
            const mtimeMs = mtime.getTime() + (sameMtime ? 0 : 5_000);
            await utimes(r.source, new Date(), (mtimeMs + 0.5) / 1000);
          },
        },
      }),
    );
    assert.notEqual(newSha, r.sourceSha);
    const [first, second] = run.of('transfer-started');
    assert.equal(first!.restarted, false);
    assert.equal(second!.restarted, true, 'the resumed attempt reports the restart');
    assert.equal(second!.heldBytes, 0);
    assert.equal(await sha256File(r.finalPath), newSha);
  });
}

for (const streaming of [false, true]) {
  const when = streaming
    ? 'while the first is still streaming data (2 MiB: more than the socket buffers hold)'
    : 'while the first waits for PUT_DONE (its data all sits in socket buffers)';
  test(`a second session of the same client takes a transfer over ${when}; the first gets TRANSFER_TAKEN_OVER and does not retry`, async (t) => {
    const fileBytes = streaming ? 2 * 1024 * 1024 : FILE_BYTES;
    // The first client's data stops reaching the server at 40 %, but server->client still flows, so it
    // can hear that it was taken over.
    const r = await rig(
      t,
      (i) => (i === 0 ? { stall: { afterBytes: Math.floor(fileBytes * 0.4), freeze: 'one' } } : undefined),
      fileBytes,
    );
    const chunkBytes = streaming ? 128 * 1024 : CHUNK_BYTES;
    const firstRun = recorder();
    const firstOutcome = sendFiles(
      r.options({ chunkBytes, onEvent: firstRun.onEvent, stallTimeoutMs: 3_000, retry: { retries: 0 } }),
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    const attached = await r.proxy.connection(0);
    // Handshake message 2, WELCOME, PUT_ACCEPT: the server has claimed the transfer for the first session.
    await attached.waitForFrames('serverToClient', 3);
    await attached.stalled;

    const secondRun = recorder();
    const [second] = await sendFiles({
      ...r.options({ chunkBytes, onEvent: secondRun.onEvent, retry: { retries: 0 } }),
      server: r.server.address,
    });
    assert.equal(await sha256File(r.finalPath), r.sourceSha);
    assert.ok(
      secondRun.of('transfer-started')[0]!.heldBytes > 0,
      "the second session resumed from the first one's partial",
    );
    assert.equal(second!.size, fileBytes);

    const err = await firstOutcome;
    assert.ok(isFerryError(err), `the first session failed with a coded error, got ${String(err)}`);
    assert.equal(err.code, 'TRANSFER_TAKEN_OVER', `first session: ${err.code}: ${err.message}`);
    assert.equal(err.retryable, false);
    assert.deepEqual(firstRun.of('retrying'), [], 'the first session never fights back');
    assert.equal(await sha256File(r.finalPath), r.sourceSha, 'the file is still the right one');
  });
}

test('after a cut the client cache holds every chunk the server holds, so the resume re-reads none of them; success removes the cache', async (t) => {
  for (const withCache of [true, false]) {
    await t.test(
      withCache ? 'with a cache' : 'without a cache (control: held chunks are re-read)',
      async (t) => {
        const r = await rig(
          t,
          (i) => (i === 0 ? { cut: { afterBytes: Math.floor(CUT_FILE_BYTES / 2) } } : undefined),
          CUT_FILE_BYTES,
        );
        const cache = join(r.dir, 'cache');
        const reads = await spyOnFileReads(t, r.source);
        let cachedIndices: number[] = [];
        const run = recorder();
        await sendFiles(
          r.options({
            onEvent: (event) => {
              run.onEvent(event);
              if (event.type === 'session-opened' && event.attempt === 2) reads.start();
              if (event.type === 'transfer-started' && event.heldBytes > 0) reads.stop();
            },
            ...(withCache ? { cacheDir: cache } : {}),
            retry: {
              retries: 3,
              random: () => 0,
              sleep: async () => {
                await r.serverCaughtUp();
                if (!withCache) return;
                const files = await readdir(cache);
                const hashes = files.filter((n) => n.endsWith('.hashes'));
                assert.equal(hashes.length, 1, `one cache file after the cut, found ${files.join(', ')}`);
                const log = await ChunkLog.load(join(cache, hashes[0]!));
                cachedIndices = [...new Set(log?.entries.map((e) => e.index) ?? [])];
              },
            },
          }),
        );
        assert.equal(await sha256File(r.finalPath), r.sourceSha);
        const resumed = run.of('transfer-started')[1]!;
        assert.ok(resumed.heldBytes > 0, 'the server held chunks at the resume');
        const heldChunks = Math.ceil(resumed.heldBytes / CHUNK_BYTES);
        const readsOfHeld = reads.positions.filter((p) => p < resumed.heldBytes);
        if (withCache) {
          for (let i = 0; i < heldChunks; i++)
            assert.ok(cachedIndices.includes(i), `chunk ${i} is held and cached`);
          assert.deepEqual(readsOfHeld, [], 'no held chunk was read from the source again');
          assert.deepEqual(await readdir(cache), [], 'the cache is removed after success');
        } else {
          assert.ok(
            readsOfHeld.length >= heldChunks,
            `without a cache each held chunk is read (${readsOfHeld.length} reads)`,
          );
        }
      },
    );
  }
});

test('progress tells the truth: verified bytes never exceed what crossed the wire, never decrease, and survive the cut', async (t) => {
  // The first session's data stops at 60 % (so it cannot finish); it is cut once it reported a third.
  const r = await rig(t, (i) =>
    i === 0 ? { stall: { afterBytes: Math.floor(FILE_BYTES * 0.6), freeze: 'one' } } : undefined,
  );
  const sessions: Array<{ held: number; verified: number[] }> = [];
  await sendFiles(
    r.options({
      onEvent: (event) => {
        if (event.type === 'session-opened') sessions.push({ held: -1, verified: [] });
        const session = sessions[sessions.length - 1]!;
        if (event.type === 'transfer-started') session.held = event.heldBytes;
        if (event.type === 'progress') {
          const connection = r.proxy.connections[sessions.length - 1]!;
          const wire = connection.bytes.clientToServer;
          assert.ok(
            event.verifiedBytes <= session.held + wire,
            `session ${sessions.length}: ${event.verifiedBytes} verified, only ${session.held} held + ${wire} on the wire`,
          );
          const last = session.verified[session.verified.length - 1] ?? session.held;
          assert.ok(
            event.verifiedBytes >= last,
            `session ${sessions.length}: verified went from ${last} to ${event.verifiedBytes}`,
          );
          session.verified.push(event.verifiedBytes);
          // Cut the first session once it has reported a third of the file verified.
          if (sessions.length === 1 && event.verifiedBytes >= FILE_BYTES / 3) connection.reset();
        }
      },
      retry: { retries: 3, random: () => 0, sleep: () => r.serverCaughtUp() },
    }),
  );
  assert.equal(sessions.length, 2);
  const reportedBeforeCut = Math.max(...sessions[0]!.verified);
  assert.ok(reportedBeforeCut < FILE_BYTES, 'the first session was cut before it finished');
  // PROTOCOL.md §5.7: verified means durable, so whatever was reported is still held after the cut.
  assert.ok(
    sessions[1]!.held >= reportedBeforeCut,
    `held ${sessions[1]!.held} after the cut, ${reportedBeforeCut} was reported verified`,
  );
  assert.equal(sessions[1]!.verified[sessions[1]!.verified.length - 1], FILE_BYTES);
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
});

test('a cut just after PUT_END reached the server (PUT_DONE lost) still ends in success on retry, not FILE_EXISTS', async (t) => {
  // Measure a whole transfer's client->server bytes, then cut the next one at exactly that length: the
  // server gets every byte, finishes the file, but the client never hears PUT_DONE.
  const r = await rig(t);
  await sendFiles(r.options({ files: [r.source], remoteDir: 'first', retry: { retries: 0 } }));
  const whole = r.proxy.totalBytes('clientToServer');
  const first = r.proxy.connections.length;
  r.proxy.setPlan((i) =>
    i === first ? { cut: { afterBytes: whole, direction: 'clientToServer' } } : undefined,
  );
  // A remote dir of the same length, so the same byte count.
  const run = recorder();
  const outcome = await sendFiles(
    r.options({
      remoteDir: 'again',
      onEvent: run.onEvent,
      retry: { retries: 3, random: () => 0, sleep: () => r.serverCaughtUp() },
    }),
  ).then(
    (results: UploadResult[]) => results,
    (err: unknown) => err,
  );
  const landed = join(r.root, 'again', FILE_NAME);
  await r.proxy.connections[first]!.cut;
  assert.equal(r.proxy.connections[first]!.bytes.clientToServer, whole, 'the cut came after the last byte');
  assert.equal(await sha256File(landed), r.sourceSha, 'the server did finish the file');
  assert.deepEqual(
    run.of('retrying').map((e) => e.code),
    ['CONNECTION_CLOSED'],
  );
  assert.ok(
    !isFerryError(outcome),
    `the client failed with ${isFerryError(outcome) ? `${outcome.code}: ${outcome.message}` : ''} although the file landed intact`,
  );
});

test('a client that reconnects while the server is still finishing the same file gets success, not an error', async (t) => {
  // Each round: the whole transfer reaches the server, the connection is cut before PUT_DONE comes back,
  // and the client reconnects at once (no backoff), so its new offer meets the server's finish (fsync,
  // rename) of the very same transfer. PROTOCOL.md §6.2: one writer per transfer at a time.
  const r = await rig(t);
  await sendFiles(r.options({ remoteDir: 'measure-0', retry: { retries: 0 } }));
  const whole = r.proxy.totalBytes('clientToServer');
  for (let round = 1; round <= 8; round++) {
    const first = r.proxy.connections.length;
    r.proxy.setPlan((i) => (i === first ? { cut: { afterBytes: whole } } : undefined));
    const run = recorder();
    const outcome = await sendFiles(r.options({ remoteDir: `measure-${round}`, onEvent: run.onEvent })).then(
      () => undefined,
      (err: unknown) => err,
    );
    await r.serverCaughtUp();
    assert.equal(
      await sha256File(join(r.root, `measure-${round}`, FILE_NAME)),
      r.sourceSha,
      `round ${round}: the file landed`,
    );
    assert.ok(
      !isFerryError(outcome),
      `round ${round}: the client failed with ${isFerryError(outcome) ? `${outcome.code}: ${outcome.message}` : ''} although the file landed intact`,
    );
  }
});

/** Records the positions of reads from `path` while started; restores the original method after the test. */
async function spyOnFileReads(
  t: TestContext,
  path: string,
): Promise<{ positions: number[]; start(): void; stop(): void }> {
  const probe = await open(path, 'r');
  const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  const original = proto.read;
  const spy = {
    positions: [] as number[],
    active: false,
    start: () => (spy.active = true),
    stop: () => (spy.active = false),
  };
  proto.read = function (this: { fd: number }, ...args: unknown[]) {
    if (spy.active && readlinkSync(`/proc/self/fd/${this.fd}`) === path && typeof args[3] === 'number')
      spy.positions.push(args[3]);
    return original.apply(this, args);
  };
  t.after(() => {
    proto.read = original;
  });
  return spy;
}
