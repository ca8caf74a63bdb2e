// The hostile peer of the relay fuzz targets (targets/delta-relay-target.ts, targets/tree-relay-target.ts): a
// loopback listener that ends a real client's Noise session with a key of its own, carries every record to a
// real FerryServer over a session of its own and back, and changes one record of the attacking side on the
// way. Working through a real server, the attacker's records are well-formed conversations to begin with, so
// one change reaches deep into the victim's state instead of stopping at its decoder.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryError } from '../../src/errors/index.js';
import {
  FramedSocket,
  clientHandshake,
  serverHandshake,
  type SecureChannel,
} from '../../src/channel/index.js';
import {
  MAX_MESSAGE_BYTES,
  MAX_RECORD_BYTES,
  decodeMessage,
  encodeMessage,
  type Message,
} from '../../src/protocol/index.js';
import type { FerryServer } from '../../src/server/index.js';
import type { SeededRandom } from '../helpers/seeded-random.js';
import { mutate } from './mutate-bytes.js';

/** How the relay changes the attacker's records of one input. */
export type Change = 'none' | 'mutate' | 'drop' | 'repeat' | 'swap' | 'cut' | 'tear' | 'lie';
export const CHANGES: readonly Change[] = [
  'none',
  'mutate',
  'mutate',
  'drop',
  'repeat',
  'swap',
  'cut',
  'tear',
  'lie',
  'lie',
];

/** The side under attack: the client (the server's records change) or the server (the client's do). */
export type Victim = 'client' | 'server';

/**
 * The shortest record a torn one announces: long enough to be opened on the victim's threads (the channel's
 * MIN_POOLED_RECORD_BYTES, 1 KiB), where a record split across reads waits in the block being filled.
 */
const MIN_TORN_RECORD_BYTES = 1024;

/** Records of one direction the relay keeps a connection's log of (the last ones, by message type). */
const LOGGED_RECORDS = 6;

/**
 * What the relay saw of one connection since the last `arm`, for a failure's message: the records each way
 * (how many, the last few by type), the change it made, and who ended it.
 */
class ConnectionLog {
  readonly #sent = { client: [] as string[], server: [] as string[] };
  readonly #counts = { client: 0, server: 0 };
  change: string | undefined;
  ended: string | undefined;

  /** A record `from` one side, carried (or, with `how`, changed) to the other. */
  carried(from: Victim, plaintext: Buffer): void {
    this.#counts[from]++;
    const log = this.#sent[from];
    log.push(typeOf(plaintext));
    if (log.length > LOGGED_RECORDS) log.shift();
  }

  describe(): string {
    const side = (from: Victim): string =>
      `${this.#counts[from]} records from the ${from}${this.#counts[from] > 0 ? ` (last ${this.#sent[from].join(' ')})` : ''}`;
    return [
      side('client'),
      side('server'),
      this.change ?? 'no change made',
      this.ended ?? 'still carrying',
    ].join('; ');
  }
}

/** A record's message type, or what it is when it decodes as none. */
function typeOf(plaintext: Buffer): string {
  try {
    return decodeMessage(plaintext).type;
  } catch {
    return `(${plaintext.length} bytes, undecodable)`;
  }
}

/**
 * One input's plan: on every connection, the relay changes the attacker's record `at` (counted from its
 * first, 0) by `change`; `lie` changes the first record from `at` on that `lie` turns into a well-formed lie.
 */
export interface RelayPlan {
  readonly change: Change;
  readonly at: number;
  readonly random: SeededRandom;
  /** The record a lie puts in place of `message`, or undefined when `message` is none to lie in. */
  readonly lie: (message: Message) => Message | undefined;
}

export class HostileRelay {
  readonly #victim: Victim;
  readonly #server: FerryServer;
  readonly #listener: Server;
  readonly #relayIdentity = generateKeyPair();
  readonly #upstreamIdentity = generateKeyPair();
  readonly #sockets = new Set<Socket>();
  #plan: RelayPlan | undefined;
  /** The digests of the end messages (GET_END, PUT_END) the victim got since the last `arm`. */
  readonly vouched: Buffer[] = [];
  /** The changes made, by kind (a plan whose record never comes changes nothing). */
  readonly applied: Record<string, number> = {};
  /** What was carried on each connection since the last `arm`, by its `host:port` at the server. */
  readonly #logs = new Map<string, ConnectionLog>();

  private constructor(victim: Victim, server: FerryServer, listener: Server) {
    this.#victim = victim;
    this.#server = server;
    this.#listener = listener;
    listener.on('connection', (socket) => void this.#carry(socket));
  }

  /** Listens on a loopback port in front of `server` (which must admit any client key). */
  static async start(victim: Victim, server: FerryServer): Promise<HostileRelay> {
    const listener = createServer();
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    return new HostileRelay(victim, server, listener);
  }

  /** Where a client connects. */
  get address(): { host: string; port: number } {
    const address = this.#listener.address();
    if (address === null || typeof address === 'string') throw new Error('relay not listening');
    return { host: '127.0.0.1', port: address.port };
  }

  /** The plan of the connections from now on; forgets the digests vouched for so far. */
  arm(plan: RelayPlan): void {
    this.#plan = plan;
    this.vouched.length = 0;
    this.#logs.clear();
  }

  /**
   * What the relay carried on the connection the server knows as `address` (its `SessionState.address`)
   * since the last `arm`, or undefined for none of this input's.
   */
  describeConnection(address: string): string | undefined {
    return this.#logs.get(address)?.describe();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#listener.close(() => resolve()));
  }

  /** Carries one client connection to the real server and back, changing one of the attacker's records. */
  async #carry(socket: Socket): Promise<void> {
    const plan = this.#plan;
    socket.on('error', () => undefined);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const up = connect(this.#server.address.port, '127.0.0.1');
    up.on('error', () => undefined);
    this.#sockets.add(up);
    up.once('close', () => this.#sockets.delete(up));
    let client: SecureChannel | undefined;
    let server: SecureChannel | undefined;
    const log = new ConnectionLog();
    try {
      await once(up, 'connect');
      this.#logs.set(`${up.localAddress ?? '?'}:${up.localPort ?? '?'}`, log);
      const toClient = (await serverHandshake(new FramedSocket(socket), { identity: this.#relayIdentity }))
        .channel;
      client = toClient;
      const toServer = await clientHandshake(new FramedSocket(up), {
        identity: this.#upstreamIdentity,
        verifyServer: () => undefined,
      });
      server = toServer;
      const [attacker, victim] = this.#victim === 'client' ? [toServer, toClient] : [toClient, toServer];
      const attackerSide: Victim = this.#victim === 'client' ? 'server' : 'client';
      const raw = (plaintext: Buffer): Buffer => plaintext;
      const honest = (async () => {
        for (;;) {
          const plaintext = await victim.receive(raw);
          log.carried(this.#victim, plaintext);
          await attacker.sendPlaintext(plaintext);
        }
      })().catch((err: unknown) => {
        log.ended ??= `the ${this.#victim}'s side ended first (${describeEnd(err)})`;
        throw err;
      });
      const hostile = (async () => {
        /** A record held back to go after the next one (`swap`). */
        let held: Buffer | undefined;
        let lied = false;
        for (let i = 0; ; i++) {
          const plaintext = await attacker.receive(raw);
          log.carried(attackerSide, plaintext);
          const changed =
            plan !== undefined &&
            (plan.change === 'lie'
              ? !lied && i >= plan.at && lieIn(plan, plaintext) !== undefined
              : i === plan.at);
          if (changed && plan.change === 'lie') lied = true;
          if (changed) {
            this.applied[plan.change] = (this.applied[plan.change] ?? 0) + 1;
            log.change = `${plan.change} at the ${attackerSide}'s record ${i} (${typeOf(plaintext)})`;
          }
          if (changed && plan.change === 'swap') {
            held = plaintext;
            continue;
          }
          if (changed && plan.change === 'tear') {
            await tear(plan.random, this.#victim === 'server' ? up : socket);
            throw new Error('cut');
          }
          const out = changed ? change(plan, plaintext) : [plaintext];
          if (held !== undefined) out.push(held);
          held = undefined;
          for (const message of out) {
            this.#noteVouched(message);
            await victim.sendPlaintext(message);
          }
          if (changed && plan.change === 'cut') throw new Error('cut');
        }
      })().catch((err: unknown) => {
        log.ended ??=
          err instanceof Error && err.message === 'cut'
            ? `the relay ${plan?.change === 'tear' ? 'tore a record and ended' : 'cut'} the connection`
            : `the ${attackerSide}'s side ended first (${describeEnd(err)})`;
        throw err;
      });
      await Promise.race([honest, hostile]);
    } catch (err) {
      // Either side hung up (or failed the handshake), or the plan cut the connection.
      log.ended ??= `ended in the handshake (${describeEnd(err)})`;
    } finally {
      client?.close();
      server?.close();
      socket.destroy();
      up.destroy();
    }
  }

  /** Notes the digest of an end message the victim gets (GET_END to a client, PUT_END to a server). */
  #noteVouched(plaintext: Buffer): void {
    try {
      const message = decodeMessage(plaintext);
      if (message.type === 'GET_END' || message.type === 'PUT_END')
        this.vouched.push(Buffer.from(message.fileDigest));
    } catch {
      // Not a message the victim can decode either.
    }
  }
}

/**
 * In place of a record, the start of one (its length, some of its bytes) and a clean end of stream, as a
 * peer's last write cut short by its close; resolves once the victim's side closed too (TCP does that much
 * whether or not the victim noticed: its sessions are what serverIdle watches). Not destroyed before: bytes
 * left unread would make the close a reset, which ends any reader at once.
 */
async function tear(random: SeededRandom, socket: Socket): Promise<void> {
  const length = random.int(MIN_TORN_RECORD_BYTES, MAX_RECORD_BYTES);
  const frame = Buffer.alloc(2);
  frame.writeUInt16BE(length);
  const closed = once(socket, 'close').catch(() => undefined);
  socket.end(Buffer.concat([frame, random.bytes(random.int(0, length - 1))]));
  await closed;
}

/** Why a side's records stopped, in a few words (a coded error's code). */
function describeEnd(err: unknown): string {
  if (err instanceof FerryError) return err.code;
  return err instanceof Error ? err.message : String(err);
}

/** The records the victim gets in place of `plaintext` under `plan` (swap and cut handled by the caller). */
function change(plan: RelayPlan, plaintext: Buffer): Buffer[] {
  switch (plan.change) {
    case 'none':
    case 'swap':
    case 'cut':
    case 'tear':
      return [plaintext];
    case 'drop':
      return [];
    case 'repeat':
      return [plaintext, plaintext];
    case 'mutate':
      return [mutate(plan.random, plaintext, { maxSteps: 2, maxLength: MAX_MESSAGE_BYTES }).bytes];
    case 'lie':
      return [lieIn(plan, plaintext) ?? plaintext];
  }
}

/** `plaintext` as `plan`'s lie re-encodes it, or undefined when it is no record to lie in. */
function lieIn(plan: RelayPlan, plaintext: Buffer): Buffer | undefined {
  let message: Message;
  try {
    message = decodeMessage(plaintext);
  } catch {
    return undefined;
  }
  const lie = plan.lie(message);
  return lie === undefined ? undefined : encodeMessageSafely(lie);
}

/** The encoding of `message`, or undefined when the encoder refuses it (a lie the wire cannot carry). */
function encodeMessageSafely(message: Message): Buffer | undefined {
  try {
    return encodeMessage(message);
  } catch {
    return undefined;
  }
}
