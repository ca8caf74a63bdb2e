// End to end: `ferry sync` up to a `ferry serve --store s3://...` backed by a real OpenStack Swift (s3api) on
// loopback (issue 16 on every store): the real CLI and server as processes. A re-sync of an unchanged tree
// skips every file (the listing reports the mtimes kept in metadata), a mode-only change and (with
// --checksum) an mtime-only change are set without sending data (SET_ATTRIBUTES, PROTOCOL.md §5.19: also on
// an object Swift assembled from parts), and --delete removes what SRC lacks, bottom-up (REMOVE_REQUEST,
// §5.16), objects read back from Swift after each step; then sync down from the store, where the listing's
// modes and mtimes are what a local quick check compares. Each test builds on the one before, in order.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { MODE_METADATA, MTIME_METADATA } from '../../src/objectstore/index.js';
import { assertExit, runFerry } from '../helpers/cli.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';
import { useSwiftNode } from '../helpers/swift-node.js';

const swift = useSwiftNode();
const PREFIX = 'e2e/';

let rig: ServeBehindProxy | undefined;
let src: string;
const big = randomBytes(200 * 1024 + 17); // more than one 64 KiB chunk: placed by a multipart upload

/**
 * Starts the server on the file's Swift node and makes SRC, once, from the first test: node 20 starts the
 * root-level `before` hooks of a file together, so a hook of ours could run before the node is up.
 */
function setUp(): Promise<void> {
  return (settingUp ??= startRig());
}
let settingUp: Promise<void> | undefined;

async function startRig(): Promise<void> {
  const s = swift();
  // `ferry serve` takes its credentials from the AWS SDK's usual environment, as people run it.
  process.env.AWS_ACCESS_KEY_ID = s.node.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s.node.secretAccessKey;
  rig = await startServeBehindProxy('ferry-cli-sync-store-', [
    '--store',
    `s3://${s.bucket}/${PREFIX}`,
    '--s3-endpoint',
    s.node.endpoint,
    '--s3-region',
    s.node.region,
  ]);
  src = join(rig.dir, 'src');
  await mkdir(join(src, 'sub'), { recursive: true });
  await mkdir(join(src, 'gone', 'deeper'), { recursive: true });
  await writeFile(join(src, 'a.txt'), 'alpha\n');
  await writeFile(join(src, 'sub', 'b.txt'), 'beta\n');
  await writeFile(join(src, 'sub', 'big.bin'), big);
  await writeFile(join(src, 'gone', 'x.txt'), 'x\n');
  await writeFile(join(src, 'gone', 'deeper', 'y.txt'), 'y\n');
  await chmod(join(src, 'a.txt'), 0o644);
  await chmod(join(src, 'sub', 'big.bin'), 0o644);
}

after(() => rig?.close());

interface Summary {
  filesSent: number;
  filesSkipped: number;
  attributesSet: number;
  deleted: number;
}

/** `ferry sync SRC SERVER/mirror ARGS --json`: exits 0, and its closing summary. */
function syncUp(what: string, ...args: string[]): Promise<Summary> {
  return sync(what, () => [src, `${rig!.proxy.addressText}/mirror`], args);
}

/** `ferry sync SERVER/mirror DST ARGS --json`, the other way. */
function syncDown(what: string, dst: string, ...args: string[]): Promise<Summary> {
  return sync(what, () => [`${rig!.proxy.addressText}/mirror`, dst], args);
}

async function sync(what: string, ends: () => string[], args: string[]): Promise<Summary> {
  await setUp();
  const result = await runFerry([
    '--home',
    rig!.clientHome,
    'sync',
    ...ends(),
    '--expect',
    rig!.serverId,
    '--chunk-size',
    '64k',
    '--json',
    ...args,
  ]);
  assertExit(result, 0, what);
  const lines = result.stdout.trim().split('\n');
  const summary = lines
    .map((line) => JSON.parse(line) as { type: string } & Summary)
    .find((e) => e.type === 'sync-summary');
  assert.ok(summary, `${what}: a sync-summary line\n${result.stdout}`);
  return summary;
}

/** Every object under the served prefix but the server's own state: key -> content, mode and mtime. */
async function objects(): Promise<Map<string, { bytes: Buffer; mode: number; mtimeMs: number }>> {
  const s = swift();
  const listed = await s.client.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: PREFIX }));
  const out = new Map<string, { bytes: Buffer; mode: number; mtimeMs: number }>();
  for (const { Key } of listed.Contents ?? []) {
    if (Key!.startsWith(`${PREFIX}.ferry/`)) continue;
    const got = await s.client.send(new GetObjectCommand({ Bucket: s.bucket, Key }));
    out.set(Key!.slice(PREFIX.length), {
      bytes: Buffer.from(await got.Body!.transformToByteArray()),
      mode: parseInt(got.Metadata?.[MODE_METADATA] ?? '', 8),
      mtimeMs: Number(got.Metadata?.[MTIME_METADATA]),
    });
  }
  return out;
}

/** What the store must hold for `relative` files of SRC: their bytes, modes and mtimes. */
async function assertMirrors(relative: string[], what: string): Promise<void> {
  const held = await objects();
  assert.deepEqual([...held.keys()].sort(), relative.map((p) => `mirror/${p}`).sort(), `${what}: the keys`);
  for (const path of relative) {
    const local = await stat(join(src, path));
    const object = held.get(`mirror/${path}`)!;
    assert.deepEqual(
      { same: object.bytes.length === local.size, mode: object.mode, mtimeMs: object.mtimeMs },
      { same: true, mode: local.mode & 0o755, mtimeMs: Math.trunc(local.mtimeMs) },
      `${what}: ${path}`,
    );
  }
}

const ALL = ['a.txt', 'sub/b.txt', 'sub/big.bin', 'gone/x.txt', 'gone/deeper/y.txt'];
const KEPT = ['a.txt', 'sub/b.txt', 'sub/big.bin'];

test('sync up to an object store sends the tree, then a re-sync skips every file by size and mtime', async () => {
  const first = await syncUp('sync up');
  assert.deepEqual([first.filesSent, first.filesSkipped], [5, 0]);
  await assertMirrors(ALL, 'after the first sync');
  assert.ok((await objects()).get('mirror/sub/big.bin')!.bytes.equals(big), 'byte-exact');
  const again = await syncUp('sync up, unchanged');
  assert.deepEqual([again.filesSent, again.filesSkipped, again.attributesSet], [0, 5, 0]);
});

test('a mode-only change, also of an object assembled from parts, is set without its data', async () => {
  await setUp();
  await chmod(join(src, 'a.txt'), 0o600);
  await chmod(join(src, 'sub', 'big.bin'), 0o755);
  const changed = await syncUp('sync up, modes changed');
  assert.deepEqual([changed.filesSent, changed.attributesSet], [0, 2]);
  await assertMirrors(ALL, 'after the mode change');
});

test('with --checksum an mtime-only change is set without its data', async () => {
  await setUp();
  const at = new Date('2024-02-03T04:05:06.789Z');
  await utimes(join(src, 'sub', 'b.txt'), at, at);
  const changed = await syncUp('sync up --checksum, an mtime changed', '--checksum');
  assert.deepEqual([changed.filesSent, changed.attributesSet], [0, 1]);
  await assertMirrors(ALL, 'after the mtime change');
  assert.equal((await objects()).get('mirror/sub/b.txt')!.mtimeMs, at.getTime());
});

test('sync --delete removes from the object store what SRC lacks, files first; what was given new attributes is skipped', async () => {
  await setUp();
  await rm(join(src, 'gone'), { recursive: true });
  // gone/deeper/y.txt, gone/x.txt, then gone/deeper and gone: emptied by then, each acknowledged.
  const removed = await syncUp('sync up --delete', '--delete');
  assert.deepEqual(
    [removed.deleted, removed.filesSent, removed.filesSkipped, removed.attributesSet],
    [4, 0, 3, 0],
  );
  await assertMirrors(KEPT, 'after --delete');
});

test('sync down from the object store: modes and mtimes from the listing, a re-sync skips every file, --delete removes local extras', async () => {
  await setUp();
  const back = join(rig!.dir, 'back');
  const first = await syncDown('sync down', back);
  assert.deepEqual([first.filesSent, first.filesSkipped], [3, 0]);
  for (const path of KEPT) {
    const [mine, theirs] = [await stat(join(src, path)), await stat(join(back, path))];
    assert.deepEqual(
      [theirs.size, theirs.mode & 0o7777, Math.trunc(theirs.mtimeMs)],
      [mine.size, mine.mode & 0o755, Math.trunc(mine.mtimeMs)],
      path,
    );
  }
  assert.ok((await readFile(join(back, 'sub', 'big.bin'))).equals(big), 'byte-exact');
  await writeFile(join(back, 'extra.txt'), 'only here\n');
  const again = await syncDown('sync down, unchanged', back, '--delete');
  assert.deepEqual([again.filesSent, again.filesSkipped, again.deleted], [0, 3, 1]);
  await assert.rejects(stat(join(back, 'extra.txt')), { code: 'ENOENT' });
});
