// Fuzz targets (h) and (i): `ferry sync` of a small tree (`syncTree`, with and without `delete`) through a
// hostile relay (hostile-relay.ts) that changes one of the attacking side's records. `client-sync` attacks a
// client's sync down (SRC on the server) with a hostile server's records; `server-sync` a server's sync up
// with a hostile client's. The well-formed lie points a path through a link in DST that leads outside it: a
// listed entry's path prefixed with it (a client's download), an upload's, directory's, link's, removal's or
// attribute change's path, or a batch entry's, moved under it (a server's). DST holds files that SRC holds the
// same, changed, or not at all, and a file where SRC has a directory.
//
// Properties, per input: nothing outside DST changes (a directory beside it that DST's link leads to, and, for
// a server, everything outside its root); a failure is a coded error other than INTERNAL; an honest relay's
// sync makes DST hold SRC's files and links (and, with `delete`, nothing else); an input ends within the
// client's stall timeout.
import { mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { syncTree } from '../../../src/client/index.js';
import type { Message } from '../../../src/protocol/index.js';
import type { FerryServer } from '../../../src/server/index.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import { snapshotTree, type EntrySnapshot } from '../../helpers/tree-snapshot.js';
import { CHANGES, type HostileRelay, type Victim } from '../hostile-relay.js';
import { FuzzFailure } from '../run-fuzz.js';
import { RelayFuzzTarget, type RelayTargetOptions } from '../relay-fuzz-target.js';

/** The link in DST that leads outside it, and what the lies route paths through. */
const OUT = 'out';

export class TreeRelayFuzzTarget extends RelayFuzzTarget {
  readonly name: string;

  private constructor(
    victim: Victim,
    started: { server: FerryServer; relay: HostileRelay },
    options: RelayTargetOptions,
  ) {
    super(victim, started.server, started.relay, options);
    this.name = `${victim}-sync`;
  }

  static async start(victim: Victim, options: RelayTargetOptions): Promise<TreeRelayFuzzTarget> {
    return new TreeRelayFuzzTarget(victim, await this.startRelayed(victim, options.workDir), options);
  }

  async one(random: SeededRandom, index: number): Promise<void> {
    const change = random.pick(CHANGES);
    const remove = random.next() < 0.5;
    const victim = this.victim;
    this.relay.arm({
      change,
      at: random.int(0, change === 'lie' ? 2 : 16),
      random,
      lie: (m) => lie(victim, m),
    });
    const kind = `${change}/${remove ? 'delete' : 'keep'}`;
    this.count(kind);
    // SRC and DST on their sides; `outside` beside DST (a client's) or outside the root (a server's).
    const local = join(this.work, `local-${index}`);
    const remote = join(this.work, 'root', `in-${index}`);
    const download = victim === 'client';
    const src = download ? join(remote, 'src') : join(local, 'src');
    const dst = download ? join(local, 'dst') : join(remote, 'dst');
    const outside = download ? join(local, 'outside') : join(this.work, `outside-${index}`);
    await writeTrees(random, src, dst);
    await mkdir(join(outside, 'sub'), { recursive: true });
    await writeFile(join(outside, 'victim.txt'), 'victim\n');
    await writeFile(join(outside, 'sub', 'victim2.txt'), 'victim2\n');
    await symlink(download ? '../outside' : `../../../outside-${index}`, join(dst, OUT));
    const outsideBefore = await snapshotTree(outside, { includeTop: true });
    let failure: unknown;
    try {
      await syncTree({
        ...this.client(),
        direction: download ? 'download' : 'upload',
        localDir: download ? dst : src,
        remotePath: download ? `in-${index}/src` : `in-${index}/dst`,
        delete: remove,
      });
    } catch (err) {
      failure = err;
    }
    await this.serverIdle({ index, kind });
    try {
      const outsideAfter = await snapshotTree(outside, { includeTop: true });
      if (!sameTree(outsideAfter, outsideBefore))
        throw new FuzzFailure(
          `the sync (${failure === undefined ? 'done' : 'failed'}) changed a tree outside DST`,
        );
      if (failure !== undefined) this.assertCodedFailure(change, failure);
      else if (change === 'none') await assertMirrored(src, dst, remove);
    } finally {
      await rm(local, { recursive: true, force: true });
      await rm(remote, { recursive: true, force: true });
      await rm(join(this.work, `outside-${index}`), { recursive: true, force: true });
    }
  }
}

/**
 * A lie routing a path through DST's link `OUT`: against a client, a listed entry's path (relative to SRC)
 * prefixed with it; against a server, the path of an upload, directory, link, removal or attribute change, or
 * of a batch's first entry, with `OUT` put before its last component (inside DST, `in-N/dst/...`).
 */
function lie(victim: Victim, message: Message): Message | undefined {
  if (victim === 'client') {
    if (message.type !== 'LIST_ENTRIES' || message.entries.length === 0) return undefined;
    const [first, ...rest] = message.entries;
    return { ...message, entries: [{ ...first!, path: `${OUT}/${first!.path}` }, ...rest] };
  }
  const through = (path: string): string | undefined =>
    /^in-\d+\/dst\/./.test(path)
      ? `${dirname(path)}/${OUT}/${path.slice(dirname(path).length + 1)}`
      : undefined;
  if (message.type === 'PUT_BATCH') {
    const [first, ...rest] = message.entries;
    const path = first && through(first.path);
    return path === undefined ? undefined : { ...message, entries: [{ ...first!, path }, ...rest] };
  }
  if (
    message.type === 'PUT_OFFER' ||
    message.type === 'PUT_DIR' ||
    message.type === 'PUT_LINK' ||
    message.type === 'REMOVE_REQUEST' ||
    message.type === 'SET_ATTRIBUTES'
  ) {
    const path = through(message.path);
    return path === undefined ? undefined : { ...message, path };
  }
  return undefined;
}

/**
 * SRC: a few files (up to 20 KiB), directories and a link; DST: some of them the same, some changed, some it
 * alone holds, one a file where SRC has a directory.
 */
async function writeTrees(random: SeededRandom, src: string, dst: string): Promise<void> {
  await mkdir(src, { recursive: true });
  await mkdir(dst, { recursive: true });
  const names = ['a.txt', 'b.bin', 'd/c.txt', 'd/e/f.bin', 'g/h.txt'];
  for (const name of names) {
    if (random.next() < 0.8) {
      const bytes = random.bytes(random.pick([0, 100, 3000, random.int(1, 20_000)]));
      await mkdir(dirname(join(src, name)), { recursive: true });
      await writeFile(join(src, name), bytes);
      const roll = random.next();
      if (roll < 0.3) {
        await mkdir(dirname(join(dst, name)), { recursive: true });
        await writeFile(join(dst, name), bytes);
      } else if (roll < 0.6) {
        const changed = Buffer.from(bytes.length > 0 ? bytes : Buffer.from('x'));
        changed[random.int(0, changed.length - 1)]! ^= 0xff;
        await mkdir(dirname(join(dst, name)), { recursive: true });
        await writeFile(join(dst, name), changed);
        // Of the same size: an older mtime, so the size-and-mtime check sees the change (as rsync's would).
        await utimes(join(dst, name), 1_600_000_000, 1_600_000_000);
      }
    } else if (random.next() < 0.5) {
      await mkdir(dirname(join(dst, name)), { recursive: true });
      await writeFile(join(dst, name), 'only in dst\n');
    }
  }
  if (random.next() < 0.5) await symlink('a.txt', join(src, 'link'));
  // A file in DST where SRC has a directory.
  if (random.next() < 0.3) {
    await mkdir(join(src, 'k'), { recursive: true });
    await writeFile(join(src, 'k', 'l.txt'), 'l\n');
    await writeFile(join(dst, 'k'), 'a file where SRC has a directory\n');
  }
}

/** Whether two snapshots hold the same entries, kinds, modes, mtimes, contents and link targets. */
function sameTree(a: Map<string, EntrySnapshot>, b: Map<string, EntrySnapshot>): boolean {
  return (
    a.size === b.size &&
    [...a].every(([path, entry]) => JSON.stringify(entry) === JSON.stringify(b.get(path)))
  );
}

/** An honest sync's result: DST holds SRC's files and links (and with `remove` nothing else). */
async function assertMirrored(src: string, dst: string, remove: boolean): Promise<void> {
  const want = await snapshotTree(src);
  const got = await snapshotTree(dst);
  for (const [path, entry] of want) {
    const have = got.get(path);
    if (have?.kind !== entry.kind || have.sha256 !== entry.sha256 || have.target !== entry.target)
      throw new FuzzFailure(`an honest sync left ${JSON.stringify(path)} unlike SRC's`);
  }
  if (remove)
    for (const path of got.keys())
      if (!want.has(path) && !path.startsWith('.'))
        throw new FuzzFailure(`an honest sync with delete left ${JSON.stringify(path)}, which SRC lacks`);
}
