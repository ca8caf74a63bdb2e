// Delta downloads (PROTOCOL.md §5.17) over real TCP on loopback through the fault proxy, real files: the
// client holds an old copy, the server serves an edited one; the client asks for the signature, builds what it
// can from its old file and receives only the rest. Each case checks the result byte-exact and the
// server->client bytes the proxy counted against what changed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFiles, type GetEvent, type GetFilesOptions } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, deltaBlockBytesFor } from '../../src/protocol/index.js';
import type { FaultPlan, PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';
import { rewriteKeepingSizeAndMtime } from '../helpers/rewrite-keeping-size-and-mtime.js';

const LEAF = 64 * 1024;
const OLD_BYTES = 3 * 1024 * 1024 + 12_345;
const NAME = 'image.bin';
/**
 * Server->client bytes besides the leaves that changed: the handshake and session (2 KiB), the signature
 * (20 bytes a block of §5.15.2's size for the file: 1792 bytes for 3 MiB, 1764 blocks in one record),
 * two offers and GET_ENDs, and 90 bytes of GET_DATA and GET_CHUNK framing per leaf sent.
 */
const signatureBytes = (size: number): number => {
  const blocks = Math.ceil(size / deltaBlockBytesFor(size));
  return blocks * 20 + Math.ceil(blocks / 2048) * 64 + 64;
};
const overheadBytes = (size: number, leaves: number): number => 4096 + signatureBytes(size) + leaves * 90;

interface Rig extends ProxiedServer {
  dest: string;
  /** Gets the server's file over the old local one; the bytes counted each way and the client's events. */
  get(overrides?: Partial<GetFilesOptions>): Promise<{ down: number; up: number; events: GetEvent[] }>;
}

async function rig(t: TestContext, old: Buffer, next: Buffer, plan?: FaultPlan | PlanFor): Promise<Rig> {
  const r = await startProxiedServer(t, 'ferry-delta-get-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    retries: 3,
    plan,
  });
  const dest = join(r.dir, 'dest');
  await mkdir(dest, { recursive: true });
  await writeFile(join(r.root, NAME), next);
  await writeFile(join(dest, NAME), old);
  return {
    ...r,
    dest,
    get: async (overrides = {}) => {
      const events: GetEvent[] = [];
      const { down, up } = await r.measure(() =>
        getFiles({
          ...r.connect,
          remotePaths: [NAME],
          localDir: dest,
          overwrite: true,
          durableBatchBytes: LEAF,
          onEvent: (e) => events.push(e),
          ...overrides,
        }),
      );
      return { down, up, events };
    },
  };
}

const old = randomBytes(OLD_BYTES);
const edited = (edit: (copy: Buffer) => Buffer): Buffer => edit(Buffer.from(old));

/** `leaves`: leaves of the new file that cannot come from the old one. */
const cases: Array<{ name: string; next: Buffer; leaves: number }> = [
  {
    name: 'modified in place at 3 places',
    next: edited((b) => {
      for (const at of [100, 1_500_000, 3_000_000]) randomBytes(200).copy(b, at);
      return b;
    }),
    leaves: 3,
  },
  {
    name: '1 KiB inserted near the start',
    next: Buffer.concat([old.subarray(0, 3000), randomBytes(1024), old.subarray(3000)]),
    // The leaf with the insertion, and the new short last leaf (the old one matches only at the end).
    leaves: 2,
  },
  {
    name: '40 KiB deleted in the middle',
    next: Buffer.concat([old.subarray(0, 1_000_000), old.subarray(1_040_960)]),
    leaves: 2,
  },
  { name: 'truncated', next: old.subarray(0, 2 * 1024 * 1024 + 777), leaves: 1 },
  {
    name: 'grown by 300 KiB',
    next: Buffer.concat([old, randomBytes(300 * 1024)]),
    leaves: 6,
  },
  { name: 'emptied', next: Buffer.alloc(0), leaves: 0 },
  {
    // Every leaf before the change lies in place: they are taken only once the difference shows.
    name: 'modified in place near the end only',
    next: edited((b) => {
      randomBytes(200).copy(b, OLD_BYTES - 5000);
      return b;
    }),
    leaves: 1,
  },
];

// PROTOCOL.md §5.17.4: files under 16 MiB are signed in blocks of about sqrt(size) and only the bytes of
// the blocks not found travel, each leaf checked whole against its chunk hash.
const SMALL_OLD = randomBytes(40 * 1024);
const MIB_OLD = randomBytes(1024 * 1024);
const blockCases: Array<{ name: string; old: Buffer; next: Buffer; blocks: number }> = [
  {
    name: 'a 40 KiB file with 100 bytes changed',
    old: SMALL_OLD,
    next: Buffer.concat([SMALL_OLD.subarray(0, 20_000), randomBytes(100), SMALL_OLD.subarray(20_100)]),
    // 100 bytes at 20,000 lie in block 19 of 1 KiB, perhaps across into block 20.
    blocks: 2,
  },
  {
    name: 'a 1 MiB file with 1 KiB inserted near the start',
    old: MIB_OLD,
    next: Buffer.concat([MIB_OLD.subarray(0, 3000), randomBytes(1024), MIB_OLD.subarray(3000)]),
    // The insertion and the block it cuts (2 blocks of 1 KiB), and the new file's short last block.
    blocks: 3,
  },
];

for (const c of blockCases) {
  test(`delta download in small blocks, ${c.name}: byte-exact, about ${c.blocks} blocks received`, async (t) => {
    const r = await rig(t, c.old, c.next);
    const { down, up, events } = await r.get();
    assert.ok((await readFile(join(r.dest, NAME))).equals(c.next), 'the new file, byte-exact');
    assert.deepEqual(await leftovers(r.dest), [], 'no partial left');
    const finished = events.find((e) => e.type === 'transfer-finished');
    assert.ok(finished?.type === 'transfer-finished');
    const blockBytes = deltaBlockBytesFor(c.next.length);
    t.diagnostic(
      `${c.name}: ${c.next.length} bytes in ${blockBytes}-byte blocks, ${down} server->client, ${up} client->server, received ${finished.transferredBytes}`,
    );
    assert.ok(
      finished.transferredBytes <= c.blocks * blockBytes,
      `${finished.transferredBytes} file bytes received, at most ${c.blocks} blocks`,
    );
    // Framing: one GET_DATA per piece, one GET_CHUNK per leaf touched (90 bytes), both leaves at most.
    const bound = c.blocks * blockBytes + overheadBytes(c.next.length, c.blocks);
    assert.ok(down <= bound, `${down} bytes server->client, bound ${bound}`);
    assert.ok(down < c.next.length / 4, `${down} bytes server->client: not the whole file`);
  });
}

test('delta download in small blocks: a found block of the old file rewritten after the scan fails the chunk (CHUNK_MISMATCH); asked again, the file arrives byte-exact', async (t) => {
  // The bytes around the pieces are read from the old file only as they are written (§5.17.4), so a change
  // made after the signature was matched and before the pieces arrive reaches the partial, and the chunk's
  // hash must catch it. The rewrite is synchronous, from the `transfer-started` event of the second request
  // (emitted once its GET_OFFER is in, before any GET_DATA is taken), in place: the client's handle sees it.
  const c = blockCases[0]!;
  const r = await rig(t, c.old, c.next);
  const local = join(r.dest, NAME);
  // Block 2 (1 KiB blocks): found in place, in the one leaf that is patched (the change is at 20,000).
  const rewriteAt = 2 * deltaBlockBytesFor(c.next.length) + 10;
  let rewritten = 0;
  const error = await r
    .get({
      retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
      onEvent: (e) => {
        if (e.type === 'transfer-started' && rewritten++ === 0)
          rewriteKeepingSizeAndMtime(local, rewriteAt, 1);
      },
    })
    .then(
      () => undefined,
      (err: unknown) => err as { code?: string },
    );
  assert.equal(rewritten, 1, 'the old file was rewritten once, between the scan and the pieces');
  assert.equal(error?.code, 'CHUNK_MISMATCH', 'the chunk built from the changed old file fails its hash');
  const changed = Buffer.from(c.old);
  changed.fill(0x58, rewriteAt, rewriteAt + 100);
  assert.ok((await readFile(local)).equals(changed), 'the local file is not replaced');
  // Asked again, the old file as it is now is scanned: the rewritten block is not found and comes as a piece.
  const { events } = await r.get();
  assert.ok((await readFile(local)).equals(c.next), 'the new file, byte-exact');
  assert.deepEqual(await leftovers(r.dest), [], 'no partial left');
  const finished = events.find((e) => e.type === 'transfer-finished');
  assert.ok(finished?.type === 'transfer-finished' && !finished.identical);
});

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /\.ferry-(part|state)$/.test(n));
}

for (const c of cases) {
  test(`delta download, ${c.name}: the file is replaced byte-exact, receiving only what changed`, async (t) => {
    const r = await rig(t, old, c.next);
    const { down, up, events } = await r.get();
    assert.ok((await readFile(join(r.dest, NAME))).equals(c.next), 'the new file, byte-exact');
    assert.deepEqual(await leftovers(r.dest), [], 'no partial left');
    const finished = events.find((e) => e.type === 'transfer-finished');
    assert.ok(finished?.type === 'transfer-finished');
    t.diagnostic(
      `${c.name}: ${c.next.length} bytes, ${down} server->client, ${up} client->server, received ${finished.transferredBytes}`,
    );
    assert.ok(
      finished.transferredBytes <= c.leaves * LEAF,
      `${finished.transferredBytes} file bytes received`,
    );
    const bound = c.leaves * LEAF + overheadBytes(c.next.length, c.leaves);
    assert.ok(down <= bound, `${down} bytes server->client, bound ${bound}`);
    assert.equal(events.filter((e) => e.type === 'transfer-resumed').length, 0, 'a delta is not a resume');
  });
}

test('delta download of an identical file: nothing is received and the old file is left as it is', async (t) => {
  const r = await rig(t, old, old);
  const { down, events } = await r.get();
  assert.ok((await readFile(join(r.dest, NAME))).equals(old));
  const finished = events.find((e) => e.type === 'transfer-finished');
  assert.ok(finished?.type === 'transfer-finished' && finished.identical, 'reported identical');
  assert.equal(finished.transferredBytes, 0);
  assert.ok(down <= overheadBytes(old.length, 0), `${down} bytes server->client`);
  assert.deepEqual(await leftovers(r.dest), []);
});

test('delta download into an empty local file: the whole file comes, no signature asked', async (t) => {
  const next = cases[0]!.next;
  const r = await rig(t, Buffer.alloc(0), next);
  const { down } = await r.get();
  assert.ok((await readFile(join(r.dest, NAME))).equals(next));
  assert.ok(down > next.length, `${down} bytes: the whole file travelled`);
});

test('get --overwrite without delta receives the file whole', async (t) => {
  const next = cases[0]!.next;
  const r = await rig(t, old, next);
  const { down } = await r.get({ delta: false });
  assert.ok((await readFile(join(r.dest, NAME))).equals(next));
  assert.ok(down > next.length, `${down} bytes: the whole file travelled`);
});

test('a delta download cut in the middle resumes: the leaves taken and received are held, the rest comes', async (t) => {
  // New data from 1 MB on, so the cut lands while the rest is received; the old file's first MB is reused.
  const next = Buffer.concat([old.subarray(0, 1_000_000), randomBytes(OLD_BYTES - 1_000_000)]);
  const cutAfterBytes = 1_200_000;
  const r = await rig(t, old, next, (i) =>
    i === 0 ? { cut: { afterBytes: cutAfterBytes, direction: 'serverToClient', landed: true } } : undefined,
  );
  const { down, events } = await r.get();
  assert.ok((await readFile(join(r.dest, NAME))).equals(next), 'byte-exact after the resume');
  assert.equal(r.proxy.connections.length, 2, 'cut once, resumed once');
  const resumed = events.find((e) => e.type === 'transfer-resumed');
  assert.ok(resumed?.type === 'transfer-resumed', 'the second attempt resumed');
  const literal = OLD_BYTES - 15 * LEAF;
  t.diagnostic(`cut and resumed: ${down} bytes server->client for ${literal} new bytes`);
  // What arrived before the cut is not received again (one leaf in flight, the framing and two sessions).
  assert.ok(down < literal + 2 * LEAF + overheadBytes(OLD_BYTES, 40) * 2, `${down} bytes`);
  assert.deepEqual(await leftovers(r.dest), []);
});

test('delta download of a file that repeats a leaf its old copy holds once: every copy is taken from it', async (t) => {
  const zeros = (leaves: number): Buffer => Buffer.alloc(leaves * LEAF);
  const head = randomBytes(16 * LEAF);
  const tail = randomBytes(16 * LEAF + 777);
  const local = Buffer.concat([head, zeros(1), tail]);
  const next = Buffer.concat([head, zeros(5), tail]);
  const r = await rig(t, local, next);
  const { events } = await r.get();
  assert.ok((await readFile(join(r.dest, NAME))).equals(next));
  const finished = events.find((e) => e.type === 'transfer-finished');
  assert.ok(finished?.type === 'transfer-finished');
  assert.equal(finished.transferredBytes, 0, 'nothing received: every leaf came from the old file');
});

test('the claim after a signature is answered from the server’s hash cache: the file is read once', async (t) => {
  const r = await rig(t, old, cases[0]!.next);
  const { events } = await r.get();
  assert.ok((await readFile(join(r.dest, NAME))).equals(cases[0]!.next));
  const finished = events.find((e) => e.type === 'transfer-finished');
  assert.ok(finished?.type === 'transfer-finished');
  // The signature is paid for once (hashedBytes counts it); the claim that follows reads nothing more. Its
  // PATCH answer (§5.17.4, blocks below 16 MiB) reads the leaves that changed whole and sends their pieces
  // only: the rest of those leaves is paid as hashing that sends no data (stop 42).
  const unsent = cases[0]!.leaves * LEAF - finished.transferredBytes;
  assert.ok(unsent > 0 && unsent < cases[0]!.leaves * LEAF, `${unsent} bytes of the leaves sent unsent`);
  assert.equal(
    r.server.hashCache.hashedBytes,
    cases[0]!.next.length + unsent,
    'the file was hashed once, the PATCH paid its unsent bytes',
  );
  // And the claim's GET_END takes the digest its signing took over the same table: the tree is not hashed
  // again between the last chunk sent and GET_END (issue 16; the server's FileDigestMemo).
  assert.equal(r.server.hashCache.digests.hits, 1, 'the claim found the signing’s digest');
});

test('delta download of a file of several scan windows (1 MiB each below 16 MiB), shifted: blocks across window edges are found', async (t) => {
  const big = randomBytes(9 * 1024 * 1024 + 1234);
  // 1 KiB inserted near the start and 7 bytes deleted at 5 MiB: every later leaf sits at an odd offset of the
  // old file, so matches straddle the windows' edges.
  const next = Buffer.concat([
    big.subarray(0, 3000),
    randomBytes(1024),
    big.subarray(3000, 5 * 1024 * 1024),
    big.subarray(5 * 1024 * 1024 + 7),
  ]);
  const r = await rig(t, big, next);
  const { events } = await r.get();
  assert.ok((await readFile(join(r.dest, NAME))).equals(next));
  const finished = events.find((e) => e.type === 'transfer-finished');
  assert.ok(finished?.type === 'transfer-finished');
  t.diagnostic(`several windows: received ${finished.transferredBytes} of ${next.length}`);
  // The leaf with the insertion, the one with the deletion, and the short last one.
  assert.ok(finished.transferredBytes <= 3 * LEAF, `${finished.transferredBytes} bytes received`);
});

test('delta download in leaves (16 MiB and more), scanned while the signature arrives: shifted and moved data is found', async (t) => {
  // 20 MiB: the server signs in leaves and sends a record per 64 of them as it reads (sign-leaves.ts); the
  // client scans each 4 MiB window of its old file once the records reach a little past it, and scans again
  // what stayed unmatched once the signature is whole. The new file moves the old file's last 6 MiB to the
  // front (found only by that second scan) and has 1 KiB inserted after them.
  const big = randomBytes(20 * 1024 * 1024 + 4321);
  const cut = 14 * 1024 * 1024;
  const next = Buffer.concat([big.subarray(cut), randomBytes(1024), big.subarray(0, cut)]);
  const r = await rig(t, big, next);
  const { events } = await r.get();
  assert.ok((await readFile(join(r.dest, NAME))).equals(next), 'the new file, byte-exact');
  const finished = events.find((e) => e.type === 'transfer-finished');
  assert.ok(finished?.type === 'transfer-finished');
  t.diagnostic(`moved and shifted: received ${finished.transferredBytes} of ${next.length}`);
  // The leaves holding the moved block's short end, the insertion, and the short last one.
  assert.ok(finished.transferredBytes <= 4 * LEAF, `${finished.transferredBytes} bytes received`);
});
