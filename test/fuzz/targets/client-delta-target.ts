// Fuzz target (f): a real client's delta download (PROTOCOL.md §5.17: `getFiles` with `overwrite` over a file
// the client holds) against a hostile server. The server is a relay: it ends the client's Noise session with a
// key of its own, carries every record to a real FerryServer over a session of its own and back, and changes
// one of the server's records on the way: its bytes mutated, dropped, sent twice, swapped with the next, the
// connection cut after it, or, in a signature record (DELTA_BLOCKS), strong hashes moved to other blocks so
// the client finds the wrong leaves. The served file is the client's old file edited (rewritten in place,
// bytes inserted, deleted, the file cut short or grown), signed in blocks (under 16 MiB) or in leaves.
//
// Properties, per input: a download through an honest relay succeeds with the served bytes; every download
// either succeeds with a file whose digest is one the server sent in a GET_END (the client never keeps bytes
// nothing vouched for), or fails with a coded error other than INTERNAL, the old file left as it was and
// nothing beside it but ferry's own partial state; an input ends within the client's stall timeout.
import { once } from 'node:events';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { getFiles } from '../../../src/client/index.js';
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
  decodeMessage,
  encodeMessage,
} from '../../../src/protocol/index.js';
import { FerryServer } from '../../../src/server/index.js';
import { digestFile } from '../../../src/transfer/index.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import { mutate } from '../mutate-bytes.js';
import { FuzzFailure, type FuzzTarget } from '../run-fuzz.js';

/** How the relay changes the server's records of one input. */
type Change = 'none' | 'mutate' | 'drop' | 'repeat' | 'swap' | 'cut' | 'strong';
const CHANGES: readonly Change[] = [
  'none',
  'mutate',
  'mutate',
  'drop',
  'repeat',
  'swap',
  'cut',
  'strong',
  'strong',
];

/** How the served file differs from the client's old one. */
type Edit = 'rewrite' | 'insert' | 'delete' | 'truncate' | 'grow' | 'identical';
const EDITS: readonly Edit[] = ['rewrite', 'rewrite', 'insert', 'delete', 'truncate', 'grow', 'identical'];

/** The client's stall timeout: a dropped record leaves it waiting this long at most. */
const STALL_MS = 1500;
/** The name of the file on both sides. */
const NAME = 'f.bin';

/** One input's plan: the relay changes the server's record `at` (counted from WELCOME, 0) by `change`. */
interface Plan {
  readonly change: Change;
  readonly at: number;
  readonly random: SeededRandom;
}

export class ClientDeltaFuzzTarget implements FuzzTarget {
  readonly name = 'client-delta';
  readonly concurrency = 1;
  readonly #server: FerryServer;
  readonly #relay: Server;
  readonly #work: string;
  readonly #relayIdentity = generateKeyPair();
  readonly #upstreamIdentity = generateKeyPair();
  readonly #sockets = new Set<Socket>();
  #plan: Plan | undefined;
  /** The digests the relay sent the client in GET_ENDs during the current input. */
  readonly #vouched: Buffer[] = [];
  readonly #counts: Record<string, number> = {};

  private constructor(server: FerryServer, relay: Server, work: string) {
    this.#server = server;
    this.#relay = relay;
    this.#work = work;
    relay.on('connection', (socket) => void this.#carry(socket));
  }

  static async start(options: { workDir: string }): Promise<ClientDeltaFuzzTarget> {
    const root = join(options.workDir, 'root');
    await mkdir(root, { recursive: true });
    const server = await FerryServer.start({
      root,
      port: 0,
      host: '127.0.0.1',
      identity: generateKeyPair(),
      partialSweepIntervalMs: 0,
      authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    });
    const relay = createServer();
    relay.listen(0, '127.0.0.1');
    await once(relay, 'listening');
    return new ClientDeltaFuzzTarget(server, relay, options.workDir);
  }

  async one(random: SeededRandom, index: number): Promise<void> {
    const { old, served, edit } = files(random);
    const change = random.pick(CHANGES);
    this.#plan = { change, at: random.int(0, change === 'strong' ? 3 : 12), random };
    this.#vouched.length = 0;
    const kind = `${change}/${edit}/${old.length >= 16 * 1024 * 1024 ? 'leaves' : 'blocks'}`;
    this.#counts[kind] = (this.#counts[kind] ?? 0) + 1;
    const local = join(this.#work, `local-${index}`);
    const remote = join(this.#work, 'root', `in-${index}`);
    await mkdir(local, { recursive: true });
    await mkdir(remote, { recursive: true });
    await writeFile(join(local, NAME), old);
    await writeFile(join(remote, NAME), served);
    const address = this.#relay.address();
    if (address === null || typeof address === 'string') throw new Error('relay not listening');
    let failure: unknown;
    try {
      await getFiles({
        server: { host: '127.0.0.1', port: address.port },
        identity: generateKeyPair(),
        verifyServer: () => undefined,
        retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
        stallTimeoutMs: STALL_MS,
        remotePaths: [`in-${index}/${NAME}`],
        localDir: local,
        overwrite: true,
        delta: true,
        threads: 1,
      });
    } catch (err) {
      failure = err;
    }
    try {
      await this.#check(local, old, served, change, failure);
    } finally {
      await rm(local, { recursive: true, force: true });
      await rm(remote, { recursive: true, force: true });
    }
  }

  async #check(local: string, old: Buffer, served: Buffer, change: Change, failure: unknown): Promise<void> {
    const now = await readFile(join(local, NAME));
    // The old file, or a file a GET_END vouched for (a failure after the rename leaves the new one in place).
    if (!now.equals(old)) {
      const digest = await digestFile(join(local, NAME));
      if (!this.#vouched.some((vouched) => vouched.equals(digest)))
        throw new FuzzFailure(
          `the download ${failure === undefined ? 'kept' : `failed (${describe(failure)}) leaving`} a file whose digest no GET_END named`,
        );
    }
    if (failure === undefined) {
      if (change === 'none' && !now.equals(served))
        throw new FuzzFailure('an honest delta download kept other bytes than the served file');
      return;
    }
    if (change === 'none') throw new FuzzFailure(`an honest delta download failed: ${describe(failure)}`);
    if (!(failure instanceof FerryError) || failure.code === 'INTERNAL')
      throw new FuzzFailure(`a hostile server made the client fail uncoded: ${describe(failure)}`);
    for (const name of await readdir(local))
      if (name !== NAME && !/^\..*ferry/.test(name))
        throw new FuzzFailure(
          `a failed download (${failure.code}) left ${JSON.stringify(name)} beside the file`,
        );
  }

  /** Carries one client connection to the real server and back, changing one of the server's records. */
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
      const raw = (plaintext: Buffer): Buffer => plaintext;
      const upward = (async () => {
        for (;;) await toServer.sendPlaintext(await toClient.receive(raw));
      })();
      const downward = (async () => {
        /** A record held back to go after the next one (`swap`). */
        let held: Buffer | undefined;
        let strongDone = false;
        for (let i = 0; ; i++) {
          const plaintext = await toServer.receive(raw);
          // `strong` changes the first signature record from `at` on; the others the record `at`.
          const changed =
            plan !== undefined &&
            (plan.change === 'strong'
              ? !strongDone && i >= plan.at && isDeltaBlocks(plaintext)
              : i === plan.at);
          if (changed && plan.change === 'strong') strongDone = true;
          if (changed && plan.change === 'swap') {
            held = plaintext;
            continue;
          }
          const out = changed ? this.#change(plan, plaintext) : [plaintext];
          if (held !== undefined) out.push(held);
          held = undefined;
          for (const message of out) {
            this.#noteVouched(message);
            await toClient.sendPlaintext(message);
          }
          if (changed && plan.change === 'cut') throw new Error('cut');
        }
      })();
      await Promise.race([upward, downward]);
    } catch {
      // Either side hung up, or the plan cut the connection.
    } finally {
      client?.close();
      server?.close();
      socket.destroy();
      up.destroy();
    }
  }

  /** The records the client gets in place of `plaintext` under `plan` (swap and cut handled by the caller). */
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
      case 'strong': {
        const message = decodeMessage(plaintext);
        if (message.type !== 'DELTA_BLOCKS' || message.strong.length < 32) return [plaintext];
        // Each block takes another's strong hash: the client finds leaves the server's file does not hold.
        const strong = Buffer.from(message.strong);
        const width = strong.length / message.weak.length;
        const first = Buffer.from(strong.subarray(0, width));
        strong.copy(strong, 0, width);
        first.copy(strong, strong.length - width);
        return [encodeMessage({ ...message, strong })];
      }
    }
  }

  #noteVouched(plaintext: Buffer): void {
    try {
      const message = decodeMessage(plaintext);
      if (message.type === 'GET_END') this.#vouched.push(Buffer.from(message.fileDigest));
    } catch {
      // Not a message the client can decode either.
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

/** The client's old file and the server's file: the old one edited, in blocks (small) or in leaves (16 MiB+). */
function files(random: SeededRandom): { old: Buffer; served: Buffer; edit: Edit } {
  const inLeaves = random.next() < 0.15;
  const size = inLeaves
    ? 16 * 1024 * 1024 + random.int(0, 3 * LEAF_BYTES)
    : random.pick([1024, 1500, 4096, random.int(1024, 300_000)]);
  const old = random.bytes(size);
  const edit = random.pick(EDITS);
  const at = random.int(0, size - 1);
  const length = random.int(1, Math.min(size, inLeaves ? 3 * LEAF_BYTES : 5000));
  let served: Buffer;
  switch (edit) {
    case 'rewrite':
      served = Buffer.from(old);
      random.bytes(length).copy(served, at);
      break;
    case 'insert':
      served = Buffer.concat([old.subarray(0, at), random.bytes(length), old.subarray(at)]);
      break;
    case 'delete':
      served = Buffer.concat([old.subarray(0, at), old.subarray(Math.min(size, at + length))]);
      break;
    case 'truncate':
      served = Buffer.from(old.subarray(0, at));
      break;
    case 'grow':
      served = Buffer.concat([old, random.bytes(length)]);
      break;
    case 'identical':
      served = Buffer.from(old);
      break;
  }
  return { old, served, edit };
}

function isDeltaBlocks(plaintext: Buffer): boolean {
  try {
    return decodeMessage(plaintext).type === 'DELTA_BLOCKS';
  } catch {
    return false;
  }
}

function describe(err: unknown): string {
  if (err instanceof FerryError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
}
