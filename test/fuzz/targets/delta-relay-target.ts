// Fuzz targets (f) and (g): a real delta transfer (PROTOCOL.md §5.15 up, §5.17 down) through a hostile relay.
// The relay ends the client's Noise session with a key of its own, carries every record to a real FerryServer
// over a session of its own and back, and changes one record of the side under attack on the way: its bytes
// mutated, dropped, sent twice, swapped with the next, the connection cut after it, or a change that keeps it
// well-formed but lies (`lie`: a signature's strong hashes moved to other blocks, a copy's old offset moved).
// `client-delta` attacks a client's delta download with a hostile server's records; `server-delta` attacks a
// server's delta upload with a hostile client's. The new file is the old one edited (rewritten in place,
// bytes inserted, deleted, the file cut short or grown, or left identical), in blocks (under 16 MiB) or in
// leaves.
//
// Properties, per input: an honest relay's transfer succeeds with the new bytes at the receiver; the
// receiver's file is always either the old one, untouched, or a file whose digest the sender named in its
// end message (GET_END, PUT_END): no bytes nothing vouched for; a failure is a coded error other than
// INTERNAL, and leaves nothing beside the file but ferry's own state; an input ends within the stall timeout.
import { once } from 'node:events';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { getFiles, sendFiles } from '../../../src/client/index.js';
import { generateKeyPair } from '../../../src/crypto/index.js';
import {
  FramedSocket,
  clientHandshake,
  serverHandshake,
  type SecureChannel,
} from '../../../src/channel/index.js';
import { FerryError } from '../../../src/errors/index.js';
import {
  LEAF_BYTES,
  MAX_MESSAGE_BYTES,
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  decodeMessage,
  encodeMessage,
} from '../../../src/protocol/index.js';
import { FerryServer } from '../../../src/server/index.js';
import { digestFile } from '../../../src/transfer/index.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import { mutate } from '../mutate-bytes.js';
import { FuzzFailure, type FuzzTarget } from '../run-fuzz.js';

/** How the relay changes the attacking side's records of one input. */
type Change = 'none' | 'mutate' | 'drop' | 'repeat' | 'swap' | 'cut' | 'lie';
const CHANGES: readonly Change[] = [
  'none',
  'mutate',
  'mutate',
  'drop',
  'repeat',
  'swap',
  'cut',
  'lie',
  'lie',
];

/** The side under attack: a client's delta download (the server lies) or a server's delta upload. */
export type DeltaVictim = 'client' | 'server';

/** How the new file differs from the victim's old one. */
type Edit = 'rewrite' | 'insert' | 'delete' | 'truncate' | 'grow' | 'identical';
const EDITS: readonly Edit[] = ['rewrite', 'rewrite', 'insert', 'delete', 'truncate', 'grow', 'identical'];

/** The client's stall timeout: a dropped record leaves it waiting this long at most. */
const STALL_MS = 1500;
/** The name of the file on both sides. */
const NAME = 'f.bin';

/** One input's plan: the relay changes the attacker's record `at` (counted from its first, 0) by `change`. */
interface Plan {
  readonly change: Change;
  readonly at: number;
  readonly random: SeededRandom;
}

export class DeltaRelayFuzzTarget implements FuzzTarget {
  readonly name: string;
  readonly concurrency = 1;
  readonly #victim: DeltaVictim;
  readonly #server: FerryServer;
  readonly #relay: Server;
  readonly #work: string;
  readonly #relayIdentity = generateKeyPair();
  readonly #upstreamIdentity = generateKeyPair();
  readonly #sockets = new Set<Socket>();
  #plan: Plan | undefined;
  /** The digests the relay handed the victim in end messages (GET_END, PUT_END) during the current input. */
  readonly #vouched: Buffer[] = [];
  readonly #counts: Record<string, number> = {};

  private constructor(victim: DeltaVictim, server: FerryServer, relay: Server, work: string) {
    this.#victim = victim;
    this.name = `${victim}-delta`;
    this.#server = server;
    this.#relay = relay;
    this.#work = work;
    relay.on('connection', (socket) => void this.#carry(socket));
  }

  static async start(victim: DeltaVictim, options: { workDir: string }): Promise<DeltaRelayFuzzTarget> {
    const root = join(options.workDir, 'root');
    await mkdir(root, { recursive: true });
    const server = await FerryServer.start({
      root,
      port: 0,
      host: '127.0.0.1',
      identity: generateKeyPair(),
      partialSweepIntervalMs: 0,
      // A delta upload needs the download permission too (the signature shows the old file, §5.15.1).
      authorize: () => ({ permissions: PERMISSION_DOWNLOAD | PERMISSION_UPLOAD }),
    });
    const relay = createServer();
    relay.listen(0, '127.0.0.1');
    await once(relay, 'listening');
    return new DeltaRelayFuzzTarget(victim, server, relay, options.workDir);
  }

  async one(random: SeededRandom, index: number): Promise<void> {
    const { old, edited, edit } = files(random);
    const change = random.pick(CHANGES);
    this.#plan = { change, at: random.int(0, change === 'lie' ? 3 : 12), random };
    this.#vouched.length = 0;
    const kind = `${change}/${edit}/${old.length >= 16 * 1024 * 1024 ? 'leaves' : 'blocks'}`;
    this.#counts[kind] = (this.#counts[kind] ?? 0) + 1;
    const local = join(this.#work, `local-${index}`);
    const remote = join(this.#work, 'root', `in-${index}`);
    await mkdir(local, { recursive: true });
    await mkdir(remote, { recursive: true });
    // The victim holds the old file and receives the edited one.
    const download = this.#victim === 'client';
    await writeFile(join(local, NAME), download ? old : edited);
    await writeFile(join(remote, NAME), download ? edited : old);
    const address = this.#relay.address();
    if (address === null || typeof address === 'string') throw new Error('relay not listening');
    const connect = {
      server: { host: '127.0.0.1', port: address.port },
      identity: generateKeyPair(),
      verifyServer: () => undefined,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
      stallTimeoutMs: STALL_MS,
      overwrite: true,
      delta: true,
      threads: 1,
    };
    let failure: unknown;
    try {
      if (download) await getFiles({ ...connect, remotePaths: [`in-${index}/${NAME}`], localDir: local });
      else await sendFiles({ ...connect, files: [join(local, NAME)], remoteDir: `in-${index}` });
    } catch (err) {
      failure = err;
    }
    try {
      await this.#check(download ? local : remote, old, edited, change, failure);
    } finally {
      await rm(local, { recursive: true, force: true });
      await rm(remote, { recursive: true, force: true });
    }
  }

  /** The properties, over the victim's directory `dir` after the transfer. */
  async #check(dir: string, old: Buffer, edited: Buffer, change: Change, failure: unknown): Promise<void> {
    const now = await readFile(join(dir, NAME));
    // The old file, or a file an end message vouched for (a failure after the rename leaves the new one).
    if (!now.equals(old)) {
      const digest = await digestFile(join(dir, NAME));
      if (!this.#vouched.some((vouched) => vouched.equals(digest)))
        throw new FuzzFailure(
          `the download ${failure === undefined ? 'kept' : `failed (${describe(failure)}) leaving`} a file whose digest no end message named`,
        );
    }
    if (failure === undefined) {
      if (change === 'none' && !now.equals(edited))
        throw new FuzzFailure('an honest delta transfer left other bytes than the new file');
      return;
    }
    if (change === 'none') throw new FuzzFailure(`an honest delta transfer failed: ${describe(failure)}`);
    if (!(failure instanceof FerryError) || failure.code === 'INTERNAL')
      throw new FuzzFailure(
        `the ${this.#victim}'s hostile peer made the transfer fail uncoded: ${describe(failure)}`,
      );
    for (const name of await readdir(dir))
      if (name !== NAME && !/^\..*ferry/.test(name))
        throw new FuzzFailure(
          `a failed download (${failure.code}) left ${JSON.stringify(name)} beside the file`,
        );
  }

  /**
   * Carries one client connection to the real server and back, changing one of the attacker's records (the
   * server's when the client is the victim, else the client's).
   */
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
    try {
      await once(up, 'connect');
      const toClient = (await serverHandshake(new FramedSocket(socket), { identity: this.#relayIdentity }))
        .channel;
      client = toClient;
      const toServer = await clientHandshake(new FramedSocket(up), {
        identity: this.#upstreamIdentity,
        verifyServer: () => undefined,
      });
      server = toServer;
      const [attacker, victim] = this.#victim === 'client' ? [toServer, toClient] : [toClient, toServer];
      const raw = (plaintext: Buffer): Buffer => plaintext;
      const honest = (async () => {
        for (;;) await attacker.sendPlaintext(await victim.receive(raw));
      })();
      const hostile = (async () => {
        /** A record held back to go after the next one (`swap`). */
        let held: Buffer | undefined;
        let lied = false;
        for (let i = 0; ; i++) {
          const plaintext = await attacker.receive(raw);
          // `lie` changes the first record it can lie in from `at` on; the others the record `at`.
          const changed =
            plan !== undefined &&
            (plan.change === 'lie'
              ? !lied && i >= plan.at && this.#lie(plaintext) !== undefined
              : i === plan.at);
          if (changed && plan.change === 'lie') lied = true;
          if (changed && plan.change === 'swap') {
            held = plaintext;
            continue;
          }
          const out = changed ? this.#change(plan, plaintext) : [plaintext];
          if (held !== undefined) out.push(held);
          held = undefined;
          for (const message of out) {
            this.#noteVouched(message);
            await victim.sendPlaintext(message);
          }
          if (changed && plan.change === 'cut') throw new Error('cut');
        }
      })();
      await Promise.race([honest, hostile]);
    } catch {
      // Either side hung up, or the plan cut the connection.
    } finally {
      client?.close();
      server?.close();
      socket.destroy();
      up.destroy();
    }
  }

  /** The records the victim gets in place of `plaintext` under `plan` (swap and cut handled by the caller). */
  #change(plan: Plan, plaintext: Buffer): Buffer[] {
    switch (plan.change) {
      case 'none':
      case 'swap':
      case 'cut':
        return [plaintext];
      case 'drop':
        return [];
      case 'repeat':
        return [plaintext, plaintext];
      case 'mutate':
        return [mutate(plan.random, plaintext, { maxSteps: 2, maxLength: MAX_MESSAGE_BYTES }).bytes];
      case 'lie':
        return [this.#lie(plaintext) ?? plaintext];
    }
  }

  /**
   * `plaintext` changed into a well-formed lie, if it is a record to lie in: a signature record (a client's
   * download) whose blocks each take the next one's strong hash, so the client finds leaves the server's
   * file does not hold; a copy (a server's upload) from one byte further in the old file.
   */
  #lie(plaintext: Buffer): Buffer | undefined {
    let message;
    try {
      message = decodeMessage(plaintext);
    } catch {
      return undefined;
    }
    if (this.#victim === 'client' && message.type === 'DELTA_BLOCKS' && message.weak.length > 1) {
      const strong = Buffer.from(message.strong);
      const width = strong.length / message.weak.length;
      const first = Buffer.from(strong.subarray(0, width));
      strong.copy(strong, 0, width);
      first.copy(strong, strong.length - width);
      return encodeMessage({ ...message, strong });
    }
    if (this.#victim === 'server' && message.type === 'PUT_COPY')
      return encodeMessage({ ...message, oldOffset: message.oldOffset + 1 });
    return undefined;
  }

  /** Notes the digest of an end message the victim gets (GET_END to a client, PUT_END to a server). */
  #noteVouched(plaintext: Buffer): void {
    try {
      const message = decodeMessage(plaintext);
      if (message.type === 'GET_END' || message.type === 'PUT_END')
        this.#vouched.push(Buffer.from(message.fileDigest));
    } catch {
      // Not a message the victim can decode either.
    }
  }

  stats(): Record<string, number | string> {
    return { ...this.#counts };
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#relay.close(() => resolve()));
    await this.#server.close();
  }
}

/** The victim's old file and the new one: the old one edited, in blocks (small) or in leaves (16 MiB+). */
function files(random: SeededRandom): { old: Buffer; edited: Buffer; edit: Edit } {
  const inLeaves = random.next() < 0.15;
  const size = inLeaves
    ? 16 * 1024 * 1024 + random.int(0, 3 * LEAF_BYTES)
    : random.pick([1024, 1500, 4096, random.int(1024, 300_000)]);
  const old = random.bytes(size);
  const edit = random.pick(EDITS);
  const at = random.int(0, size - 1);
  const length = random.int(1, Math.min(size, inLeaves ? 3 * LEAF_BYTES : 5000));
  let edited: Buffer;
  switch (edit) {
    case 'rewrite':
      edited = Buffer.from(old);
      random.bytes(length).copy(edited, at);
      break;
    case 'insert':
      edited = Buffer.concat([old.subarray(0, at), random.bytes(length), old.subarray(at)]);
      break;
    case 'delete':
      edited = Buffer.concat([old.subarray(0, at), old.subarray(Math.min(size, at + length))]);
      break;
    case 'truncate':
      edited = Buffer.from(old.subarray(0, at));
      break;
    case 'grow':
      edited = Buffer.concat([old, random.bytes(length)]);
      break;
    case 'identical':
      edited = Buffer.from(old);
      break;
  }
  return { old, edited, edit };
}

function describe(err: unknown): string {
  if (err instanceof FerryError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
}
