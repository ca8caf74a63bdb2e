// A server that answers with nothing but KEEPALIVE (PROTOCOL.md §5.18) is alive to the stall watchdog (its
// bytes move) and, before the progress watchdog, held a client forever. The client now fails such a session
// with NO_PROGRESS once the server has sent only keepalives for longer than its base timeout plus the time the
// sizes it may honestly be hashing take at 64 MiB/s (src/client/progress-watchdog.ts); a server within that
// allowance is waited for. Real Noise sessions on loopback (a hostile server with its own key); the client's
// progress clock is injected and moves 1 s each time the client reads it (once per message it receives), so
// nothing sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES, FerryError, isFerryError } from '../../src/errors/index.js';
import {
  HASH_FLOOR_BYTES_PER_SECOND,
  ProgressWatchdog,
  getFiles,
  sendFiles,
} from '../../src/client/index.js';
import type { Message } from '../../src/protocol/index.js';
import { FakeFerryServer } from '../helpers/fake-ferry-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** The client's base progress timeout in these tests. */
const BASE_MS = 10_000;
/** Each KEEPALIVE moves the client's clock this far. */
const STEP_MS = 1000;

/** Answers every GET_REQUEST and PUT_OFFER with KEEPALIVEs only, then (if still read) with `finally`. */
class KeepaliveOnlyServer extends FakeFerryServer {
  /** The client's progress clock, in ms: STEP_MS more at each reading. */
  clockMs = 0;
  clockReads = 0;
  /** KEEPALIVEs per request before the server gives up and answers `QUOTA_EXCEEDED` instead. */
  keepalives = 10_000;
  /** Send PROGRESS (more each time) instead of KEEPALIVE. */
  progressOnly = false;
  /** Called when a request arrives, before anything is answered. */
  onRequest: (() => void) | undefined;
  /** Sent after each KEEPALIVE, if set: what a server might pass off as progress. */
  between: ((ref: number) => Message) | undefined;

  static async start(): Promise<KeepaliveOnlyServer> {
    const server = new KeepaliveOnlyServer();
    await server.listen();
    return server;
  }

  protected override async answer(channel: SecureChannel, message: Message): Promise<void> {
    // "Is it a directory?" (§5.12 SELF_ONLY): a file.
    if (await this.answerAsFile(channel, message)) return;
    if (message.type !== 'GET_REQUEST' && message.type !== 'PUT_OFFER') return;
    this.onRequest?.();
    for (let i = 0; i < this.keepalives; i++) {
      // PROGRESS that reports more each time is progress, unlike KEEPALIVE: only its pace can be wrong.
      await channel.send(
        this.progressOnly
          ? { type: 'PROGRESS', ref: message.ref, verifiedBytes: i + 1 }
          : { type: 'KEEPALIVE' },
      );
      if (this.between) await channel.send(this.between(message.ref));
    }
    await channel.send({
      type: 'ERROR',
      ref: message.ref,
      code: ERROR_CODES.QUOTA_EXCEEDED.wire,
      detail: 'done keeping alive',
    });
  }
}

function connectOptions(server: KeepaliveOnlyServer) {
  return {
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 2, sleep: () => Promise.resolve(), random: () => 0 },
    progressTimeoutMs: BASE_MS,
    progressClock: () => {
      server.clockReads++;
      return (server.clockMs += STEP_MS);
    },
  };
}

function codeOf(err: unknown): string {
  return isFerryError(err) ? err.code : String(err);
}

test('a download answered by keepalives only fails with NO_PROGRESS after the base timeout, not retried', async (t) => {
  const server = await KeepaliveOnlyServer.start();
  const work = await makeTempDir('ferry-keepalive-only-');
  t.after(async () => {
    await server.close();
    await removeTempDir(work);
  });
  const err = await getFiles({ ...connectOptions(server), remotePaths: ['f.bin'], localDir: work }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal(codeOf(err), 'NO_PROGRESS', String(err));
  assert.match((err as FerryError).message, /only keepalives .*--progress-timeout/);
  // One session, given up on after BASE_MS of keepalives read (and the few messages before them), never the
  // 10,000 the server was ready to send, and not retried.
  assert.ok(server.clockReads <= BASE_MS / STEP_MS + 5, `${server.clockReads} clock readings`);
  assert.equal(server.received.filter((m) => m.type === 'GET_REQUEST').length, 1);
});

test('a PROGRESS that reports nothing new, or a message for a ref the client closed, is no progress either', async (t) => {
  const server = await KeepaliveOnlyServer.start();
  const work = await makeTempDir('ferry-keepalive-only-');
  t.after(async () => {
    await server.close();
    await removeTempDir(work);
  });
  for (const between of [
    (ref: number): Message => ({ type: 'PROGRESS', ref, verifiedBytes: 0 }),
    // Ref 1 is the size check's listing, closed before the download asks for the file.
    (): Message => ({ type: 'LIST_END', ref: 1, totalEntries: 0, isFile: true, mode: 0o644, mtimeMs: 0 }),
  ]) {
    server.between = between;
    server.clockReads = 0;
    const err = await getFiles({ ...connectOptions(server), remotePaths: ['f.bin'], localDir: work }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal(codeOf(err), 'NO_PROGRESS', String(err));
  }
});

/**
 * A TCP relay in front of a server that passes everything until `trickle` is set, then holds the server's
 * bytes and lets one through per `drip()`: a server trickling its messages.
 */
class TrickleRelay {
  readonly #server: Server = createServer();
  readonly #held: Buffer[] = [];
  readonly #sockets: Socket[] = [];
  #toClient: Socket | undefined;
  trickle = false;

  static async start(target: { host: string; port: number }): Promise<TrickleRelay> {
    const relay = new TrickleRelay();
    relay.#server.on('connection', (client) => {
      const upstream = connect(target);
      relay.#sockets.push(client, upstream);
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
      client.pipe(upstream);
      relay.#toClient = client;
      upstream.on('data', (chunk: Buffer) => {
        if (relay.trickle) relay.#held.push(chunk);
        else client.write(chunk);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    relay.#server.listen(0, '127.0.0.1');
    await once(relay.#server, 'listening');
    return relay;
  }

  get address(): { host: string; port: number } {
    const info = this.#server.address() as AddressInfo;
    return { host: info.address, port: info.port };
  }

  /** Lets one held byte through; false when none is held. */
  drip(): boolean {
    const first = this.#held[0];
    if (first === undefined || this.#toClient === undefined) return false;
    this.#toClient.write(first.subarray(0, 1));
    if (first.length === 1) this.#held.shift();
    else this.#held[0] = first.subarray(1);
    return true;
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

test('a server trickling its messages a byte at a time fails with NO_PROGRESS once one takes longer than the base timeout', async (t) => {
  const server = await KeepaliveOnlyServer.start();
  const relay = await TrickleRelay.start(server.address);
  const work = await makeTempDir('ferry-keepalive-only-');
  t.after(async () => {
    await relay.close();
    await server.close();
    await removeTempDir(work);
  });
  let requested!: () => void;
  const request = new Promise<void>((resolve) => (requested = resolve));
  server.progressOnly = true;
  server.onRequest = () => {
    relay.trickle = true;
    requested();
  };
  let check: (() => void) | undefined;
  let clockMs = 0;
  const outcome = getFiles({
    ...connectOptions(server),
    server: relay.address,
    remotePaths: ['f.bin'],
    localDir: work,
    progressClock: () => clockMs,
    progressTicker: (tick) => {
      check = tick;
      return () => (check = undefined);
    },
  }).then(
    () => 'done',
    (e: unknown) => `${codeOf(e)}: ${(e as Error).message}`,
  );
  let settled: string | undefined;
  void outcome.then((code) => (settled = code));
  await Promise.race([request, outcome]);
  // One byte, 2 s of the client's clock and a check per round, until the client gives up: a PROGRESS
  // record (about 30 bytes) never completes within the 10 s base.
  for (let round = 0; round < 200 && settled === undefined; round++) {
    relay.drip();
    await new Promise<void>((resolve) => setImmediate(resolve));
    clockMs += 2000;
    check?.();
  }
  assert.match(
    await Promise.race([outcome, Promise.resolve(settled ?? 'still waiting')]),
    /^NO_PROGRESS: .*the server has been sending one message for \d+ s, .* nothing completes$/,
  );
});

test('an upload waits through keepalives for as long as hashing its size may take, and no longer', async (t) => {
  const server = await KeepaliveOnlyServer.start();
  const work = await makeTempDir('ferry-keepalive-only-');
  t.after(async () => {
    await server.close();
    await removeTempDir(work);
  });
  // A sparse 4 GiB file: the server may take 64 s to hash it at the floor rate, so 50 s of keepalives
  // (above the 10 s base) are within the allowance and the server's own answer comes through.
  const big = join(work, 'big.bin');
  const handle = await open(big, 'w');
  await handle.truncate(4 * 1024 * 1024 * 1024);
  await handle.close();
  assert.equal((4 * 1024 * 1024 * 1024) / HASH_FLOOR_BYTES_PER_SECOND, 64);
  server.keepalives = 50;
  const sent = await sendFiles({ ...connectOptions(server), files: [big] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal(codeOf(sent), 'QUOTA_EXCEEDED', String(sent));

  // The same 50 s for a small file are past its allowance.
  const small = join(work, 'small.bin');
  const smallHandle = await open(small, 'w');
  await smallHandle.write('small');
  await smallHandle.close();
  server.clockMs = 0;
  const refused = await sendFiles({ ...connectOptions(server), files: [small] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal(codeOf(refused), 'NO_PROGRESS', String(refused));
});

test('the allowance: base plus the open refs sizes at the floor rate; server sizes only for open refs', () => {
  let now = 0;
  const watchdog = new ProgressWatchdog(BASE_MS, () => now);
  const GiB = 1024 * 1024 * 1024;
  assert.equal(watchdog.allowanceMs, BASE_MS);
  watchdog.sent({
    type: 'PUT_OFFER',
    ref: 1,
    size: GiB,
  } as Message);
  assert.equal(watchdog.allowanceMs, BASE_MS + 16_000);
  // A GET_OFFER for a ref the client no longer waits on buys the server nothing.
  watchdog.received({ type: 'GET_OFFER', ref: 2, size: 100 * GiB } as Message, false);
  assert.equal(watchdog.allowanceMs, BASE_MS + 16_000);
  watchdog.received({ type: 'GET_OFFER', ref: 3, size: GiB } as Message, true);
  assert.equal(watchdog.allowanceMs, BASE_MS + 32_000);
  watchdog.closed(1);
  watchdog.closed(3);
  assert.equal(watchdog.allowanceMs, BASE_MS);
  // A batch's records add up.
  const entry = { size: GiB / 2 };
  watchdog.sent({ type: 'PUT_BATCH', ref: 4, entries: [entry] } as unknown as Message);
  watchdog.sent({ type: 'PUT_BATCH', ref: 4, entries: [entry, entry] } as unknown as Message);
  assert.equal(watchdog.allowanceMs, BASE_MS + 24_000);
  watchdog.closed(4);

  // Keepalives within the allowance pass; past it, NO_PROGRESS; any other message is progress.
  now = BASE_MS;
  watchdog.received({ type: 'KEEPALIVE' }, false);
  now = 2 * BASE_MS;
  watchdog.received({ type: 'PROGRESS', ref: 5, verifiedBytes: 1 }, true);
  now = 3 * BASE_MS;
  watchdog.received({ type: 'KEEPALIVE' }, false);
  now = 3 * BASE_MS + 1;
  // The same PROGRESS again reports nothing new: it is checked like a KEEPALIVE.
  assert.throws(
    () => watchdog.received({ type: 'PROGRESS', ref: 5, verifiedBytes: 1 }, true),
    (err: unknown) => err instanceof FerryError && err.code === 'NO_PROGRESS',
  );
  assert.throws(
    () => watchdog.received({ type: 'KEEPALIVE' }, false),
    (err: unknown) => err instanceof FerryError && err.code === 'NO_PROGRESS',
  );
});
