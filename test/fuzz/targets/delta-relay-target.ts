// Fuzz targets (f) and (g): a real delta transfer (PROTOCOL.md §5.15 up, §5.17 down) through a hostile relay
// (hostile-relay.ts) that changes one of the attacking side's records: its bytes mutated, dropped, sent twice,
// swapped with the next, the connection cut after it or in the middle of it (`tear`), or a change that keeps it
// well-formed but lies (`lie`: a signature's strong hashes moved to other blocks, a copy's old offset moved).
// `client-delta` attacks a client's delta download with a hostile server's records; `server-delta` a server's
// delta upload with a hostile client's. The new file is the old one edited (rewritten in place, bytes inserted, deleted, the file
// cut short or grown, or left identical), in blocks (under 16 MiB) or in leaves.
//
// Properties, per input: an honest relay's transfer succeeds with the new bytes at the receiver; the
// receiver's file is always either the old one, untouched, or a file whose digest the sender named in its
// end message (GET_END, PUT_END): no bytes nothing vouched for; a failure is a coded error other than
// INTERNAL, and leaves nothing beside the file but ferry's own state; an input ends within the stall timeout.
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFiles, sendFiles } from '../../../src/client/index.js';
import { LEAF_BYTES, type Message } from '../../../src/protocol/index.js';
import type { FerryServer } from '../../../src/server/index.js';
import { digestFile } from '../../../src/transfer/index.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import { CHANGES, type Change, type HostileRelay, type Victim } from '../hostile-relay.js';
import { RelayFuzzTarget, describeError, type RelayTargetOptions } from '../relay-fuzz-target.js';
import { FuzzFailure } from '../run-fuzz.js';

/** How the new file differs from the victim's old one. */
type Edit = 'rewrite' | 'insert' | 'delete' | 'truncate' | 'grow' | 'identical';
const EDITS: readonly Edit[] = ['rewrite', 'rewrite', 'insert', 'delete', 'truncate', 'grow', 'identical'];

/** The name of the file on both sides. */
const NAME = 'f.bin';

export class DeltaRelayFuzzTarget extends RelayFuzzTarget {
  readonly name: string;

  private constructor(
    victim: Victim,
    started: { server: FerryServer; relay: HostileRelay },
    options: RelayTargetOptions,
  ) {
    super(victim, started.server, started.relay, options);
    this.name = `${victim}-delta`;
  }

  static async start(victim: Victim, options: RelayTargetOptions): Promise<DeltaRelayFuzzTarget> {
    return new DeltaRelayFuzzTarget(victim, await this.startRelayed(victim, options.workDir), options);
  }

  async one(random: SeededRandom, index: number): Promise<void> {
    const { old, edited, edit } = files(random);
    const change = random.pick(CHANGES);
    const victim = this.victim;
    this.relay.arm({
      change,
      at: random.int(0, change === 'lie' ? 3 : 12),
      random,
      lie: (m) => lie(victim, m),
    });
    const kind = `${change}/${edit}/${old.length >= 16 * 1024 * 1024 ? 'leaves' : 'blocks'}`;
    this.count(kind);
    const local = join(this.work, `local-${index}`);
    const remote = join(this.work, 'root', `in-${index}`);
    await mkdir(local, { recursive: true });
    await mkdir(remote, { recursive: true });
    // The victim holds the old file and receives the edited one.
    const download = victim === 'client';
    await writeFile(join(local, NAME), download ? old : edited);
    await writeFile(join(remote, NAME), download ? edited : old);
    const connect = { ...this.client(), overwrite: true, delta: true };
    let failure: unknown;
    try {
      if (download) await getFiles({ ...connect, remotePaths: [`in-${index}/${NAME}`], localDir: local });
      else await sendFiles({ ...connect, files: [join(local, NAME)], remoteDir: `in-${index}` });
    } catch (err) {
      failure = err;
    }
    await this.serverIdle({ index, kind });
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
      if (!this.relay.vouched.some((vouched) => vouched.equals(digest)))
        throw new FuzzFailure(
          `the transfer ${failure === undefined ? 'kept' : `failed (${describeError(failure)}) leaving`} a file whose digest no end message named`,
        );
    }
    if (failure === undefined) {
      if (change === 'none' && !now.equals(edited))
        throw new FuzzFailure('an honest delta transfer left other bytes than the new file');
      return;
    }
    this.assertCodedFailure(change, failure);
    for (const name of await readdir(dir))
      if (name !== NAME && !/^\..*ferry/.test(name))
        throw new FuzzFailure(`a failed transfer left ${JSON.stringify(name)} beside the file`);
  }
}

/**
 * A lie in `message` against `victim`: a signature record (a client's download) whose blocks each take the
 * next one's strong hash, so the client finds leaves the server's file does not hold; a copy (a server's
 * upload) from one byte further in the old file.
 */
function lie(victim: Victim, message: Message): Message | undefined {
  if (victim === 'client' && message.type === 'DELTA_BLOCKS' && message.weak.length > 1) {
    const strong = Buffer.from(message.strong);
    const width = strong.length / message.weak.length;
    const first = Buffer.from(strong.subarray(0, width));
    strong.copy(strong, 0, width);
    first.copy(strong, strong.length - width);
    return { ...message, strong };
  }
  if (victim === 'server' && message.type === 'PUT_COPY')
    return { ...message, oldOffset: message.oldOffset + 1 };
  return undefined;
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
