// Fuzz target (e): a real FerryServer (in a child process) fed hostile connections over loopback sockets:
// random bytes, mutated preambles, a valid preamble with random or mutated handshake messages, unknown
// clients, and allowed clients that complete the handshake and then send random, mutated and
// half-coherent records sealed with the session keys, so the fuzz reaches the message decoder and every
// handler after admission.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, FerryError } from '../../../src/errors/index.js';
import { generateKeyPair, HandshakeState, type KeyPair } from '../../../src/crypto/index.js';
import {
  FramedSocket,
  NOISE_PROTOCOL_NAME,
  clientHandshake,
  type SecureChannel,
} from '../../../src/channel/index.js';
import {
  MAX_MESSAGE_BYTES,
  MESSAGE_TYPE_CODES,
  chunkHashOf,
  decodeMessage,
  encodeFrame,
  encodeClientHello,
  encodeMessage,
  encodePreamble,
  encodeVersionOffer,
  fileDigest,
  versionPrologue,
  type Message,
} from '../../../src/protocol/index.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import { SAMPLE_MESSAGES } from '../../protocol/message-samples.js';
import { mutate, randomBytes } from '../mutate-bytes.js';
import { FuzzFailure, type FuzzTarget } from '../run-fuzz.js';

const CHILD = fileURLToPath(new URL('../fuzz-server-child.ts', import.meta.url));
// The client's version offer (what opens a connection) and the prologue it and the answer make (PROTOCOL.md §2).
const PREAMBLE = encodeVersionOffer();
const PROLOGUE = versionPrologue(PREAMBLE, encodePreamble());
/** The server's answer (8 bytes) and message 2 (u16 + e 32 + ekem1 1104 + s 48 + empty payload 16). */
const ANSWER_AND_MESSAGE_2_BYTES = 8 + 2 + 32 + 1104 + 48 + 16;
const EMPTY = Buffer.alloc(0);
const KNOWN_WIRE_CODES = new Set<number>(
  Object.values(ERROR_CODES).flatMap((spec) => (spec.wire === null ? [] : [spec.wire])),
);
const TYPE_CODES = Object.values(MESSAGE_TYPE_CODES);
/** Samples small enough to mutate cheaply; huge ones (packed listings) add nothing here. */
const SMALL_SAMPLES = SAMPLE_MESSAGES.filter((m) => encodeMessage(m).length <= 4096);

/** Figures the server child reports (after two forced collections). */
export interface ServerStats {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  vmHwm: number;
  vmRss: number;
  sessionsEnded: number;
  sessionsAdmitted: number;
  ended: Record<string, number>;
  openSockets: number;
  /** The longest the server's event loop was held so far, in ms (every timer waits behind it). */
  eventLoopMaxMs: number;
  /** The most CPU time the server spent between two turns of its event loop so far, in ms. */
  eventLoopMaxCpuMs: number;
  /** The server's active resources by type (`process.getActiveResourcesInfo()`): what it still waits on. */
  pending: Record<string, number>;
  /** The connection gate's refusals (`ConnectionGate.stats`). */
  gate: Record<string, number>;
}

export interface ServerTargetOptions {
  /** A fresh directory the server's root and the fuzzer's files live in. */
  workDir: string;
  handshakeTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Connections in flight at once. */
  concurrency?: number;
  /** Extra time past the server's own timeouts before a connection counts as hung. */
  slackMs?: number;
}

type Kind =
  | 'random-bytes'
  | 'mutated-preamble'
  | 'preamble-random-handshake'
  | 'mutated-handshake'
  | 'oversized-handshake'
  | 'unknown-client'
  | 'authenticated';

const KINDS: readonly Kind[] = [
  'random-bytes',
  'mutated-preamble',
  'preamble-random-handshake',
  'mutated-handshake',
  'oversized-handshake',
  'unknown-client',
  'authenticated',
  'authenticated',
  'authenticated',
  'authenticated',
];

/** Paths an authenticated fuzzer offers: mostly under fuzz/, some hostile (the server must refuse those). */
function randomPath(random: SeededRandom): string {
  const name = (): string =>
    random.pick([
      'a',
      'b',
      'small.bin',
      'dir',
      'é',
      'n\u0301',
      'CON',
      'x'.repeat(255),
      'x'.repeat(256),
      `f${random.int(0, 20)}`,
    ]);
  const roll = random.next();
  if (roll < 0.6) return `fuzz/${name()}${random.next() < 0.3 ? `/${name()}` : ''}`;
  if (roll < 0.7) return 'fuzz/small.bin';
  return random.pick([
    '',
    '../x',
    'fuzz/../../x',
    '/etc/passwd',
    '.ferry/partial/x',
    '.FERRY/x',
    'fuzz\\..\\x',
    'fuzz/\u0000',
    'fuzz//x',
    'fuzz/./x',
    `${'fuzz/'.repeat(800)}x`,
    'fuzz/link/x',
  ]);
}

/** A sample message with its refs and paths randomised (still well-formed as far as the encoder goes). */
function randomMessage(random: SeededRandom): Message {
  const sample = structuredClone(random.pick(SMALL_SAMPLES)) as Message & { ref?: number; path?: string };
  if ('ref' in sample) sample.ref = random.next() < 0.8 ? random.int(1, 4) : random.pick([0, 0xffffffff]);
  if ('path' in sample && random.next() < 0.9) sample.path = randomPath(random);
  return sample;
}

/** One record's plaintext: a random, mutated or sample message. */
function randomPlaintext(random: SeededRandom): Buffer {
  const roll = random.next();
  let message: Message;
  if (roll < 0.2) {
    const bytes = randomBytes(random, 200);
    if (bytes.length === 0) return Buffer.from([random.pick(TYPE_CODES)]);
    bytes[0] = random.pick(TYPE_CODES);
    return bytes;
  }
  message = randomMessage(random);
  let bytes: Buffer;
  try {
    bytes = encodeMessage(message);
  } catch {
    // A randomised field the encoder refuses (a path it finds invalid): send the sample as it is.
    message = random.pick(SMALL_SAMPLES);
    bytes = encodeMessage(message);
  }
  if (roll < 0.55) return mutate(random, bytes, { maxLength: MAX_MESSAGE_BYTES }).bytes;
  return bytes;
}

/** A coherent upload of a small file (offer, data, chunk hashes, end), with one message sometimes broken. */
function coherentUpload(random: SeededRandom): Buffer[] {
  const ref = random.int(1, 3);
  const chunkBytes = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
  const size = random.pick([0, 1, 1024, 1025, random.int(2, 3000)]);
  const data = random.bytes(size);
  const hashes: Buffer[] = [];
  const out: Buffer[] = [
    encodeMessage({
      type: 'PUT_OFFER',
      ref,
      size,
      mtimeMs: 0,
      chunkBytes,
      mode: 0o644,
      overwrite: random.next() < 0.5,
      fresh: random.next() < 0.3,
      path: `fuzz/up-${random.int(0, 30)}`,
    }),
  ];
  for (let offset = 0; offset < size; offset += chunkBytes) {
    const chunk = data.subarray(offset, offset + chunkBytes);
    hashes.push(chunkHashOf(chunk));
    out.push(encodeMessage({ type: 'PUT_DATA', ref, offset, data: chunk }));
    out.push(
      encodeMessage({ type: 'PUT_CHUNK', ref, index: offset / chunkBytes, chunkHash: hashes.at(-1)! }),
    );
  }
  out.push(encodeMessage({ type: 'PUT_END', ref, fileDigest: fileDigest(size, chunkBytes, hashes) }));
  if (random.next() < 0.6) {
    const i = random.int(0, out.length - 1);
    out[i] = mutate(random, out[i]!, { maxSteps: 2, maxLength: MAX_MESSAGE_BYTES }).bytes;
  }
  return out;
}

/** An offer whose size makes the server size its per-transfer tables (hash list, chunk set) by the claim. */
function hugeOffer(random: SeededRandom): Buffer {
  const chunkBytes = random.pick([64 * 1024, 128 * 1024, 2 ** 26]);
  const chunks = random.pick([2 ** 20, 2 ** 24, 2 ** 26, 2 ** 27, 2 ** 32 - 1]);
  return encodeMessage({
    type: 'PUT_OFFER',
    ref: random.int(1, 3),
    size: Math.min(Number.MAX_SAFE_INTEGER, chunks * chunkBytes),
    mtimeMs: 0,
    chunkBytes,
    mode: 0o644,
    overwrite: true,
    fresh: true,
    path: `fuzz/huge-${random.int(0, 3)}`,
  });
}

/** How the server child reported a connection's end: its refusal code (or session result) and duration. */
interface ServerEnd {
  code: string;
  durationMs: number;
}

/** Everything a connection saw: bytes or messages from the server, and when (if) it closed. */
interface Outcome {
  closedAt: number | undefined;
  lastSendAt: number;
}

/**
 * Target (e). Properties, per connection: the server never crashes (its process stays up), closes every
 * connection within its handshake or idle timeout (plus slack) after the fuzzer's last byte, sends before
 * admission nothing but handshake message 2 or its own preamble, and after admission only records that
 * decrypt and decode, whose ERRORs carry a known wire code and a detail free of server paths and stack
 * traces. An honest handshake completes, unless the server reports that very connection refused with TIMEOUT
 * at its handshake deadline (a documented limit the fuzzer's own load can make an honest client miss).
 * After the run (`verifyAfter`): every session has ended, memory is back within bounds, and an
 * honest upload still works.
 */
export class ServerFuzzTarget implements FuzzTarget {
  readonly name = 'server';
  readonly concurrency: number;
  readonly clientIdentity: KeyPair = generateKeyPair();
  readonly root: string;
  readonly #child: ChildProcess;
  readonly #port: number;
  readonly #serverKey: Buffer;
  readonly #handshakeMs: number;
  readonly #idleMs: number;
  readonly #slackMs: number;
  readonly #kinds: Record<string, number> = {};
  readonly #errorCodes: Record<string, number> = {};
  readonly #childErr: string[] = [];
  readonly baseline: ServerStats;
  #connections = 0;
  /** Honest handshakes the server refused at its handshake deadline (allowed, but counted and reported). */
  #honestAtDeadline = 0;
  /** The longest any connection stayed open after the fuzzer's last byte, in ms (reported in the stats). */
  #slowestCloseMs = 0;
  #crashed: string | undefined;
  #closing: Promise<void> | undefined;
  readonly #sockets = new Set<Socket>();
  /**
   * How the server ended the connections of honest handshakes, by client address: filled from the child's
   * `ended` messages for the addresses registered in `#watched` only, so it stays as small as the lanes.
   */
  readonly #watched = new Map<string, (end: ServerEnd) => void>();
  readonly #endsSeen = new Map<string, ServerEnd>();
  readonly #addressOf = new WeakMap<Socket, string>();
  /**
   * Every connection whose end the server has not reported yet, by client address: its input's kind and
   * index, named when sessions never end. `#endedFirst` holds ends reported before the client saw its own
   * connect. Both stay as small as the lanes, unless sessions really are stuck.
   */
  readonly #unended = new Map<string, { kind: string; index: number }>();
  readonly #endedFirst = new Set<string>();
  /** RSS samples (after GC) taken every `sampleEvery` inputs, to show a plateau rather than growth. */
  readonly rssSamples: Array<{ inputs: number; rss: number; heapUsed: number }> = [];

  private constructor(
    child: ChildProcess,
    port: number,
    serverKey: Buffer,
    root: string,
    options: Required<Omit<ServerTargetOptions, 'workDir'>>,
    baseline: ServerStats,
    clientIdentity: KeyPair,
  ) {
    this.#child = child;
    this.#port = port;
    this.#serverKey = serverKey;
    this.root = root;
    this.#handshakeMs = options.handshakeTimeoutMs;
    this.#idleMs = options.idleTimeoutMs;
    this.#slackMs = options.slackMs;
    this.concurrency = options.concurrency;
    this.baseline = baseline;
    this.clientIdentity = clientIdentity;
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      if (this.#childErr.join('').length < 20_000) this.#childErr.push(s);
    });
    child.on('message', (message: unknown) => {
      const m = message as { type?: string; address?: string } & Partial<ServerEnd>;
      if (m.type !== 'ended' || m.address === undefined) return;
      const end = { code: m.code ?? '?', durationMs: m.durationMs ?? 0 };
      if (!this.#unended.delete(m.address)) this.#endedFirst.add(m.address);
      const waiter = this.#watched.get(m.address);
      if (waiter) waiter(end);
    });
    child.once('exit', (code, signal) => {
      if (this.#closing === undefined)
        this.#crashed = `server exited (code ${code}, signal ${signal})\n${this.#childErr.join('')}`;
    });
  }

  /** Starts the server child and waits for it to listen. */
  static async start(options: ServerTargetOptions): Promise<ServerFuzzTarget> {
    const full = {
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 400,
      idleTimeoutMs: options.idleTimeoutMs ?? 400,
      concurrency: options.concurrency ?? 16,
      // Room for the fuzzer's and the server's own load (16 post-quantum handshakes at once on 2 cores) past
      // the 400 ms timeouts. Seed 1967364089 once needed 5.8 s more: one PUT_LINK held the server's event
      // loop that long (a cubic link check, fixed), which the event-loop bound in verifyServerAfterFuzz now
      // names directly.
      slackMs: options.slackMs ?? 2500,
    };
    const root = join(options.workDir, 'root');
    await mkdir(join(root, 'fuzz'), { recursive: true });
    // Something to download, and a file the fuzz may overwrite.
    await writeFile(join(root, 'fuzz', 'small.bin'), Buffer.alloc(3000, 7));
    const clientIdentity = generateKeyPair();
    const child = fork(CHILD, [], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        ...process.env,
        NODE_TEST_CONTEXT: '',
        FUZZ_ROOT: root,
        FUZZ_CLIENT_KEY: clientIdentity.publicKey.toString('hex'),
        FUZZ_HANDSHAKE_MS: String(full.handshakeTimeoutMs),
        FUZZ_IDLE_MS: String(full.idleTimeoutMs),
      },
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const lines = createInterface({ input: child.stdout! });
    const first = await Promise.race([
      once(lines, 'line').then(([line]) => line as string),
      once(child, 'exit').then(() => {
        throw new Error(`fuzz server exited before listening:\n${stderr}`);
      }),
    ]);
    const { port, serverPublicKey } = JSON.parse(first) as { port: number; serverPublicKey: string };
    const target = new ServerFuzzTarget(
      child,
      port,
      Buffer.from(serverPublicKey, 'hex'),
      root,
      full,
      await requestStats(child),
      clientIdentity,
    );
    return target;
  }

  get port(): number {
    return this.#port;
  }

  get serverPublicKey(): Buffer {
    return Buffer.from(this.#serverKey);
  }

  /** Connections made so far. */
  get connections(): number {
    return this.#connections;
  }

  async one(random: SeededRandom, index = -1): Promise<void> {
    if (this.#crashed) throw new FuzzFailure(this.#crashed);
    const kind = random.pick(KINDS);
    this.#kinds[kind] = (this.#kinds[kind] ?? 0) + 1;
    const socket = connect({ host: '127.0.0.1', port: this.#port });
    this.#connections++;
    this.#sockets.add(socket);
    socket.on('error', () => undefined);
    const outcome: Outcome = { closedAt: undefined, lastSendAt: Date.now() };
    // Not events.once: it rejects on 'error', and an RST from the server is a fine way to close.
    const closed = new Promise<void>((resolve) =>
      socket.once('close', () => {
        outcome.closedAt = Date.now();
        resolve();
      }),
    );
    const sent: Buffer[] = [];
    const send = (bytes: Buffer): void => {
      sent.push(bytes);
      outcome.lastSendAt = Date.now();
      if (!socket.destroyed) socket.write(bytes);
    };
    let afterClose: Promise<void> | undefined;
    let address: string | undefined;
    try {
      await once(socket, 'connect');
      address = `${socket.localAddress}:${socket.localPort}`;
      if (!this.#endedFirst.delete(address)) this.#unended.set(address, { kind, index });
      if (kind === 'mutated-handshake' || kind === 'unknown-client' || kind === 'authenticated') {
        this.#watch(address);
        this.#addressOf.set(socket, address);
      }
      switch (kind) {
        case 'random-bytes':
        case 'mutated-preamble':
        case 'preamble-random-handshake':
        case 'oversized-handshake':
          await this.#preHandshake(kind, random, socket, send);
          break;
        case 'mutated-handshake':
          await this.#mutatedHandshake(random, socket, send);
          break;
        case 'unknown-client':
        case 'authenticated':
          afterClose = (await this.#session(kind, random, socket, sent)).received;
          break;
      }
      // Half the connections stay open: the server's own timeouts must close them.
      if (random.next() < 0.5 && !socket.destroyed) socket.end();
      await this.#awaitClose(socket, outcome, closed, kind, sent);
    } finally {
      socket.destroy();
      this.#sockets.delete(socket);
      if (address !== undefined) this.#unwatch(address);
    }
    // Every record the server sent, checked once the connection is gone (so it can never wait forever).
    await afterClose;
    if (this.#crashed) throw new FuzzFailure(this.#crashed, Buffer.concat(sent));
  }

  /** The input kinds tried and the ERROR codes seen. */
  stats(): Record<string, number | string> {
    const out: Record<string, number | string> = { connections: this.#connections };
    for (const [k, v] of Object.entries(this.#kinds)) out[`kind:${k}`] = v;
    out['slowestCloseMs'] = this.#slowestCloseMs;
    if (this.#honestAtDeadline > 0) out['honest:refused-at-deadline'] = this.#honestAtDeadline;
    for (const [k, v] of Object.entries(this.#errorCodes)) out[`error:${k}`] = v;
    return out;
  }

  /** Current server figures (after two forced collections in the child). */
  serverStats(): Promise<ServerStats> {
    return requestStats(this.#child);
  }

  /**
   * Waits until the server has ended one session per connection made (so none is stuck), or throws. The
   * child pushes an `ended` message per session, so this waits on events; the deadline only bounds it.
   */
  async waitForSessionsEnded(timeoutMs: number): Promise<ServerStats> {
    const target = this.#connections;
    const child = this.#child;
    let stats = await this.serverStats();
    if (stats.sessionsEnded < target) {
      await new Promise<void>((resolve, reject) => {
        const finish = (err?: Error): void => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve();
        };
        const onMessage = (message: unknown): void => {
          const m = message as { type?: string; sessionsEnded?: number };
          if (m.type === 'ended' && (m.sessionsEnded ?? 0) >= target) finish();
        };
        const onExit = (): void => finish(new Error('server child exited'));
        const timer = setTimeout(
          () =>
            void this.serverStats().then(
              (now) => finish(new FuzzFailure(this.#neverEnded(target - now.sessionsEnded, timeoutMs, now))),
              () => finish(new FuzzFailure(`${target - stats.sessionsEnded} sessions never ended`)),
            ),
          timeoutMs,
        );
        child.on('message', onMessage);
        child.once('exit', onExit);
      });
      stats = await this.serverStats();
    }
    // A session ends before its socket's last close callback runs; one more stats round trip settles it.
    if (stats.openSockets !== 0) stats = await this.serverStats();
    if (stats.openSockets !== 0)
      throw new FuzzFailure(`${stats.openSockets} sockets still open after every session ended`);
    return stats;
  }

  /**
   * Sessions that never ended, with what can tell why: which inputs they were (replay them with
   * FERRY_FUZZ_SEED and the index), what the server still waits on, its gate's refusals and event-loop holds.
   */
  #neverEnded(count: number, timeoutMs: number, stats: ServerStats): string {
    const inputs = [...this.#unended.values()]
      .slice(0, 8)
      .map(({ kind, index }) => `input ${index} (${kind})`)
      .join(', ');
    return (
      `${count} sessions never ended within ${timeoutMs} ms; connections without a reported end: ` +
      `${this.#unended.size}${inputs ? ` (${inputs})` : ''}; the server waits on ${JSON.stringify(stats.pending)}` +
      `; gate ${JSON.stringify(stats.gate)}; event loop held up to ${stats.eventLoopMaxMs} ms ` +
      `(${stats.eventLoopMaxCpuMs} ms of CPU); ended ${JSON.stringify(stats.ended)}`
    );
  }

  /** Whether the server process died, and its last stderr. */
  get crashed(): string | undefined {
    return this.#crashed;
  }

  async close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const socket of this.#sockets) socket.destroy();
      if (this.#child.exitCode === null && this.#child.signalCode === null) {
        const exited = once(this.#child, 'exit');
        this.#child.disconnect();
        const kill = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(kill);
      }
    })();
    return this.#closing;
  }

  async #preHandshake(
    kind: Kind,
    random: SeededRandom,
    socket: Socket,
    send: (bytes: Buffer) => void,
  ): Promise<void> {
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    if (kind === 'random-bytes') send(randomBytes(random, 4096));
    else if (kind === 'mutated-preamble') {
      send(mutate(random, PREAMBLE, { maxSteps: 2 }).bytes);
      if (random.next() < 0.5) send(encodeFrame(random.bytes(32)));
    } else if (kind === 'oversized-handshake') {
      // More than a handshake's worth sent ahead: the server must refuse to buffer it all.
      send(Buffer.concat([PREAMBLE, random.bytes(random.pick([65537, 140_000, 300_000]))]));
    } else {
      send(PREAMBLE);
      const pieces = random.int(1, 3);
      for (let i = 0; i < pieces; i++) {
        const body = randomBytes(random, 300);
        send(random.next() < 0.7 ? encodeFrame(body) : body);
      }
    }
    await onceClosedOrTimeout(socket, this.#handshakeMs + this.#slackMs);
    checkPreAdmission(Buffer.concat(received), kind);
  }

  async #mutatedHandshake(
    random: SeededRandom,
    socket: Socket,
    send: (bytes: Buffer) => void,
  ): Promise<void> {
    const framed = new FramedSocket(socket);
    const identity = random.next() < 0.5 ? this.clientIdentity : generateKeyPair();
    const hs = new HandshakeState({
      protocolName: NOISE_PROTOCOL_NAME,
      initiator: true,
      prologue: PROLOGUE,
      s: identity,
    });
    const step = random.pick([1, 3]);
    const m1 = hs.writeMessage(EMPTY);
    send(Buffer.concat([PREAMBLE, encodeFrame(step === 1 ? mutate(random, m1, { maxSteps: 2 }).bytes : m1)]));
    if (step === 1) return;
    try {
      await framed.readExactly(8); // the version answer (§2.3)
      const length = (await framed.readExactly(2)).readUInt16BE(0);
      hs.readMessage(await framed.readExactly(length));
    } catch (err) {
      if (
        await this.#refusedAtDeadline(
          socket,
          `honest message 1 was not answered with message 2: ${String(err)}`,
          m1,
        )
      )
        return;
    }
    const m3 = hs.writeMessage(encodeClientHello(0));
    const mutated = mutate(random, m3, { maxSteps: 2, maxLength: 65535 }).bytes;
    send(encodeFrame(mutated.length === 0 ? Buffer.from([0]) : mutated));
    // The server cannot answer a bad message 3 with an ERROR (there is no channel): it must just close.
    const after: Buffer[] = [];
    socket.on('data', (d: Buffer) => after.push(d));
    await onceClosedOrTimeout(socket, this.#handshakeMs + this.#slackMs);
    if (!mutated.equals(m3) && Buffer.concat(after).length > 0) {
      throw new FuzzFailure('the server answered a mutated message 3', mutated);
    }
  }

  /** Runs a session's handshake and records; returns the check of what the server sent, settled on close. */
  async #session(
    kind: 'unknown-client' | 'authenticated',
    random: SeededRandom,
    socket: Socket,
    sent: Buffer[],
  ): Promise<{ received: Promise<void> }> {
    const framed = new FramedSocket(socket);
    let channel: SecureChannel;
    try {
      channel = await clientHandshake(framed, {
        identity: kind === 'authenticated' ? this.clientIdentity : generateKeyPair(),
        verifyServer: (key) => {
          if (!key.equals(this.#serverKey)) throw new FerryError('SERVER_KEY_CHANGED');
        },
        timeoutMs: this.#handshakeMs + this.#slackMs,
      });
    } catch (err) {
      await this.#refusedAtDeadline(socket, `an honest handshake failed: ${String(err)}`);
      return { received: Promise.resolve() };
    }
    void socket; // the channel owns it from here
    const received = this.#receiveAll(channel, kind);
    received.catch(() => undefined); // awaited by the caller once the connection is closed
    const records: Buffer[] = [];
    const roll = random.next();
    if (roll < 0.3) records.push(...coherentUpload(random));
    else if (roll < 0.35)
      records.push(
        hugeOffer(random),
        ...Array.from({ length: random.int(0, 2) }, () => randomPlaintext(random)),
      );
    else for (let i = random.int(1, 6); i > 0; i--) records.push(randomPlaintext(random));
    for (const plaintext of records) {
      sent.push(plaintext);
      if (channel.closed) break;
      const corrupt = random.next();
      try {
        if (corrupt < 0.03)
          framed.write(encodeFrame(random.bytes(random.int(17, 80)))); // not sealed at all
        else if (corrupt < 0.05)
          framed.write(Buffer.from([0, random.int(0, 16)])); // shorter than a tag
        else if (corrupt < 0.06)
          framed.write(Buffer.from([0xff, 0xff]), random.bytes(1000)); // announced, never sent
        else await channel.sendPlaintext(plaintext);
      } catch {
        break; // the server closed: fine, it is allowed to
      }
    }
    // Wrapped: an async function returning a promise would wait for it.
    return { received };
  }

  /** Starts recording how the server ends the connection from `address` (a client's local address). */
  #watch(address: string): void {
    this.#watched.set(address, (end) => this.#endsSeen.set(address, end));
  }

  #unwatch(address: string): void {
    this.#watched.delete(address);
    this.#endsSeen.delete(address);
  }

  /**
   * An honest handshake (or an honest message 1) failed. That is the server keeping its documented
   * handshake deadline (SECURITY.md, "Server limits") only if the server reports this very connection
   * refused with TIMEOUT after at least `handshakeTimeoutMs`: on a loaded machine the fuzzer's own lanes
   * (16 post-quantum handshakes at once, cold JIT) can make an honest client miss a 400 ms deadline. Then
   * it is counted (`honest:refused-at-deadline` in the stats) and returns true; any other refusal, or none
   * reported, is a failure. A server refusing every honest handshake still fails the honest upload after.
   */
  async #refusedAtDeadline(socket: Socket, failure: string, input?: Buffer): Promise<true> {
    // Taken at connect: a socket that has closed no longer knows its local address.
    const address = this.#addressOf.get(socket);
    socket.destroy();
    if (address === undefined) throw new FuzzFailure(`${failure}; (no local address recorded)`, input);
    const end =
      this.#endsSeen.get(address) ??
      (await new Promise<ServerEnd | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), this.#handshakeMs + this.#slackMs);
        this.#watched.set(address, (seen) => {
          clearTimeout(timer);
          this.#endsSeen.set(address, seen);
          resolve(seen);
        });
      }));
    if (end?.code === 'TIMEOUT' && end.durationMs >= this.#handshakeMs) {
      this.#honestAtDeadline++;
      return true;
    }
    const server =
      end === undefined
        ? `the server reported no end of this connection within ${this.#handshakeMs + this.#slackMs} ms (${await this.serverStats().then(
            (stats) =>
              `it waits on ${JSON.stringify(stats.pending)}, gate ${JSON.stringify(stats.gate)}, event loop held up to ${stats.eventLoopMaxMs} ms`,
            () => 'no stats',
          )})`
        : `the server ended it with ${end.code} after ${end.durationMs} ms (deadline ${this.#handshakeMs} ms)`;
    throw new FuzzFailure(`${failure}; ${server}`, input);
  }

  /** Reads every record the server sends until it closes; each must decrypt and decode. */
  async #receiveAll(channel: SecureChannel, kind: 'unknown-client' | 'authenticated'): Promise<void> {
    let first = true;
    for (;;) {
      let plaintext: Buffer;
      try {
        plaintext = await channel.receive((record) => record);
      } catch (err) {
        if (err instanceof FerryError && (err.code === 'CONNECTION_CLOSED' || err.code === 'TIMEOUT')) return;
        throw new FuzzFailure(`a server record failed: ${String(err)}`);
      }
      let message: Message;
      try {
        message = decodeMessage(plaintext);
      } catch (err) {
        throw new FuzzFailure(`the server sent a malformed message: ${String(err)}`, plaintext);
      }
      if (
        first &&
        kind === 'unknown-client' &&
        !(message.type === 'ERROR' && message.code === ERROR_CODES.CLIENT_NOT_ALLOWED.wire)
      ) {
        throw new FuzzFailure(
          `an unknown client got ${message.type} instead of CLIENT_NOT_ALLOWED`,
          plaintext,
        );
      }
      first = false;
      if (message.type === 'ERROR') {
        const name =
          Object.entries(ERROR_CODES).find(([, spec]) => spec.wire === message.code)?.[0] ?? message.code;
        this.#errorCodes[String(name)] = (this.#errorCodes[String(name)] ?? 0) + 1;
        if (!KNOWN_WIRE_CODES.has(message.code))
          throw new FuzzFailure(`unknown wire code ${message.code}`, plaintext);
        if (message.detail.includes(this.root) || /\/tmp\/|\n\s+at /.test(message.detail))
          throw new FuzzFailure(`an ERROR detail leaks a path or a stack: ${message.detail}`, plaintext);
      }
    }
  }

  async #awaitClose(
    socket: Socket,
    outcome: Outcome,
    closed: Promise<void>,
    kind: Kind,
    sent: Buffer[],
  ): Promise<void> {
    const limit = Math.max(this.#handshakeMs, this.#idleMs) + this.#slackMs;
    const remaining = outcome.lastSendAt + limit - Date.now();
    if (remaining > 0) await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, remaining))]);
    if (outcome.closedAt === undefined && !socket.destroyed) {
      // Whether the server was busy (its event loop held: every timer late) or a deadline never fired.
      const held = await this.serverStats().then(
        (stats) => `${stats.eventLoopMaxMs} ms, ${stats.eventLoopMaxCpuMs} ms of CPU`,
        () => 'unknown',
      );
      throw new FuzzFailure(
        `${kind}: the server kept the connection open ${limit} ms past the last byte (its event loop held up to ${held})`,
        Buffer.concat(sent),
      );
    }
    if (outcome.closedAt !== undefined)
      this.#slowestCloseMs = Math.max(this.#slowestCloseMs, outcome.closedAt - outcome.lastSendAt);
  }
}

/**
 * Before admission the server may send only its version answer, alone (a refusal) or followed by handshake
 * message 2 (PROTOCOL.md §2.3, §3.1).
 */
function checkPreAdmission(bytes: Buffer, kind: Kind): void {
  if (bytes.length === 0) return;
  const answers = bytes.length >= 8 && bytes.subarray(0, 6).equals(PREAMBLE.subarray(0, 6));
  const isPreamble = answers && bytes.length === 8;
  const isMessage2 =
    answers &&
    bytes.length === ANSWER_AND_MESSAGE_2_BYTES &&
    bytes.readUInt16BE(8) === ANSWER_AND_MESSAGE_2_BYTES - 10;
  if (!isPreamble && !isMessage2)
    throw new FuzzFailure(
      `${kind}: the server sent ${bytes.length} unexpected bytes before admission`,
      bytes,
    );
}

function onceClosedOrTimeout(socket: Socket, ms: number): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    socket.once('close', done);
    function done(): void {
      clearTimeout(timer);
      socket.off('close', done);
      resolve();
    }
  });
}

async function requestStats(child: ChildProcess): Promise<ServerStats> {
  const reply = new Promise<ServerStats>((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      if ((message as { type?: string }).type !== 'stats') return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as ServerStats);
    };
    const onExit = (): void => {
      child.off('message', onMessage);
      reject(new Error('server child exited'));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  child.send('stats');
  return reply;
}
