// End to end: `ferry sync` both ways (issue 16): the real CLI and `ferry serve` as processes on loopback,
// the bytes counted at a proxy between them. Each test builds on the trees the earlier ones left, in order.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import type { FaultProxy } from '../helpers/fault-proxy.js';
import { listTree } from '../helpers/temp-dir.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';

const BIG_BYTES = 1024 * 1024 + 4321;

let dir: string;
let rig: ServeBehindProxy | undefined;
let proxy: FaultProxy | undefined;
let clientHome: string;
let serverId: string;
/** The server's root; the client's tree lands in `root/mirror`. */
let root: string;
/** The local SRC of the upload tests. */
let src: string;
/** The local DST of the download tests. */
let back: string;
let big: Buffer;

before(async () => {
  rig = await startServeBehindProxy('ferry-cli-sync-');
  ({ dir, clientHome, serverId, root, proxy } = rig);
  src = join(dir, 'src');
  back = join(dir, 'back');
  // SRC: files, a nested big file, an empty directory, a link inside the tree.
  await mkdir(join(src, 'sub', 'deeper'), { recursive: true });
  await mkdir(join(src, 'empty'));
  await writeFile(join(src, 'a.txt'), 'alpha alpha alpha\n');
  await writeFile(join(src, 'sub', 'deeper', 'c.txt'), 'gamma\n');
  big = randomBytes(BIG_BYTES);
  await writeFile(join(src, 'sub', 'big.bin'), big);
  await symlink('sub/deeper/c.txt', join(src, 'link'));
});

after(() => rig?.close());

async function sync(...args: string[]): Promise<CliResult> {
  return runFerry(['--home', clientHome, 'sync', ...args, '--expect', serverId, '--chunk-size', '64k']);
}

const remote = (path = ''): string => `${proxy!.addressText}/mirror${path}`;

/** Bytes through the proxy in one direction while `work` runs. */
async function counted(
  direction: 'clientToServer' | 'serverToClient',
  work: () => Promise<CliResult>,
): Promise<{ result: CliResult; bytes: number }> {
  const before = proxy!.totalBytes(direction);
  const result = await work();
  return { result, bytes: proxy!.totalBytes(direction) - before };
}

/** The same length, another content, and the old mtime back: the quick check cannot tell them apart. */
async function rewriteKeepingSizeAndMtime(path: string, content: string): Promise<void> {
  const old = await stat(path);
  assert.equal(Buffer.byteLength(content), old.size, 'the test rewrites a file to the same size');
  await writeFile(path, content);
  // Whole milliseconds plus half a microsecond: a Date would round the sub-millisecond part up or down.
  const seconds = (Math.trunc(old.mtimeMs) + 0.0005) / 1000;
  await utimes(path, seconds, seconds);
}

test('sync SRC HOST/DST sends a new tree: files, modes and mtimes, a link, an empty directory', async () => {
  const { result } = await counted('clientToServer', () => sync(src, remote()));
  assertExit(result, 0, 'sync up');
  assert.match(result.stderr, /sync: sent 3 files \(3 new, 0 changed\)/);
  const mirror = join(root, 'mirror');
  assert.deepEqual(await listTree(mirror), await listTree(src));
  assert.ok((await readFile(join(mirror, 'sub', 'big.bin'))).equals(big));
  assert.equal(await readlink(join(mirror, 'link')), 'sub/deeper/c.txt');
  assert.ok((await lstat(join(mirror, 'empty'))).isDirectory());
  for (const path of ['a.txt', 'sub/big.bin', 'sub/deeper/c.txt'])
    assert.equal(
      Math.trunc((await stat(join(mirror, path))).mtimeMs),
      Math.trunc((await stat(join(src, path))).mtimeMs),
      `${path} keeps its mtime`,
    );
});

test('sync up skips a file whose size and mtime match without reading it; --checksum compares content and sends it', async () => {
  await rewriteKeepingSizeAndMtime(join(src, 'a.txt'), 'ALPHA alpha alpha\n');
  const quick = await sync(src, remote());
  assertExit(quick, 0, 'sync up, quick check');
  assert.match(quick.stderr, /sent 0 files .* skipped 3 unchanged/);
  // Not read: the server still holds the old content, which a comparison of contents would have replaced.
  assert.equal(await readFile(join(root, 'mirror', 'a.txt'), 'utf8'), 'alpha alpha alpha\n');
  const checked = await sync(src, remote(), '--checksum');
  assertExit(checked, 0, 'sync up --checksum');
  assert.match(checked.stderr, /sent 1 file \(0 new, 1 changed\).* skipped 2 unchanged/);
  assert.equal(await readFile(join(root, 'mirror', 'a.txt'), 'utf8'), 'ALPHA alpha alpha\n');
});

test('sync up sends a changed file as a delta: an insertion and an in-place rewrite cost a small part of it', async () => {
  const next = Buffer.from(big);
  randomBytes(2000).copy(next, 700_000); // rewritten in place
  big = Buffer.concat([next.subarray(0, 3000), randomBytes(1024), next.subarray(3000)]); // inserted
  await writeFile(join(src, 'sub', 'big.bin'), big);
  const { result, bytes } = await counted('clientToServer', () => sync(src, remote()));
  assertExit(result, 0, 'sync up, changed');
  assert.ok((await readFile(join(root, 'mirror', 'sub', 'big.bin'))).equals(big), 'byte-exact');
  assert.ok(bytes < big.length / 4, `${bytes} bytes client->server for a ${big.length}-byte file`);
  const saved = /, the delta of 1 file saved ([\d.]+) (KiB|MiB)/.exec(result.stderr);
  assert.ok(saved, result.stderr);
  assert.ok(Number(saved[1]) * (saved[2] === 'MiB' ? 1024 * 1024 : 1024) > big.length / 2, result.stderr);
});

test('sync up removes what SRC lacks only with --delete, deepest first; a dry run changes nothing', async () => {
  await rm(join(src, 'sub', 'deeper'), { recursive: true });
  await rm(join(src, 'link'));
  await writeFile(join(src, 'new.txt'), 'new\n');
  const mirror = join(root, 'mirror');
  const kept = await sync(src, remote());
  assertExit(kept, 0, 'sync up without --delete');
  assert.ok((await lstat(join(mirror, 'sub', 'deeper', 'c.txt'))).isFile(), 'kept without --delete');
  await writeFile(join(src, 'new.txt'), 'newer\n');
  const before = await listTree(mirror);
  const dry = await sync(src, remote(), '--delete', '--dry-run');
  assertExit(dry, 0, 'sync up --delete --dry-run');
  assert.match(dry.stderr, /would send new\.txt \(changed/);
  assert.match(dry.stderr, /would delete sub\/deeper\/c\.txt/);
  assert.match(dry.stderr, /nothing was changed/);
  assert.deepEqual(await listTree(mirror), before, 'a dry run changes nothing');
  assert.equal(await readFile(join(mirror, 'new.txt'), 'utf8'), 'new\n');
  const removed = await sync(src, remote(), '--delete');
  assertExit(removed, 0, 'sync up --delete');
  assert.match(removed.stderr, /deleted 3;/);
  assert.deepEqual(await listTree(mirror), await listTree(src));
});

/** The one error line sync ends with when a directory stood in the way: it names only sync's own flags. */
function assertConflictLine(result: CliResult, count: string): void {
  assert.ok(
    result.stderr.includes(
      `ferry: SYNC_CONFLICT: a directory is in the way of an entry of the source: ${count} not placed (sync --delete replaces such a directory)\n`,
    ),
    result.stderr,
  );
  // FILE_EXISTS' table text says `--overwrite`, a flag of send and get that sync does not have.
  assert.doesNotMatch(result.stderr, /--overwrite|FILE_EXISTS/);
}

test('sync up: a directory in the way of a file fails the run (SYNC_CONFLICT, exit 8) and is replaced only with --delete', async () => {
  const mirror = join(root, 'mirror');
  await rm(join(mirror, 'new.txt'));
  await mkdir(join(mirror, 'new.txt'));
  await writeFile(join(mirror, 'new.txt', 'inner'), 'inner\n');
  const refused = await sync(src, remote());
  assertExit(refused, 8, 'sync up with a directory in the way');
  assert.match(
    refused.stderr,
    /^conflict new\.txt: a directory is in the way \(use --delete to replace it\)$/m,
  );
  assertConflictLine(refused, '1 entry');
  assert.ok((await lstat(join(mirror, 'new.txt', 'inner'))).isFile(), 'nothing removed without --delete');
  const replaced = await sync(src, remote(), '--delete');
  assertExit(replaced, 0, 'sync up --delete with a directory in the way');
  assert.equal(await readFile(join(mirror, 'new.txt'), 'utf8'), 'newer\n');
  assert.deepEqual(await listTree(mirror), await listTree(src));
});

test('sync of a file, local or remote, is refused before anything changes: sync mirrors directories (exit 2)', async () => {
  const up = await sync(join(src, 'a.txt'), remote('/file-up'));
  assertExit(up, 2, 'sync up of a local file');
  assert.ok(
    up.stderr.includes(
      `ferry: USAGE_INVALID: invalid usage: ${join(src, 'a.txt')}: the source is a file: sync mirrors directories\n`,
    ),
    up.stderr,
  );
  await assert.rejects(lstat(join(root, 'mirror', 'file-up')), { code: 'ENOENT' });
  const down = await sync(remote('/a.txt'), join(dir, 'file-down'));
  assertExit(down, 2, 'sync down of a remote file');
  assert.match(
    down.stderr,
    /^ferry: USAGE_INVALID: invalid usage: \S+:\d+\/mirror\/a\.txt: the source is a file: sync mirrors directories$/m,
  );
  await assert.rejects(lstat(join(dir, 'file-down')), { code: 'ENOENT' });
});

test('sync down --dry-run into a missing directory creates nothing', async () => {
  const nowhere = join(dir, 'nowhere');
  const dry = await sync(remote(), nowhere, '--dry-run');
  assertExit(dry, 0, 'sync down --dry-run');
  // A sync down says receive, not send, in its lines as in its summary.
  assert.match(dry.stderr, /would receive a\.txt \(new/);
  assert.match(dry.stderr, /dry run: would receive 3 files/);
  assert.doesNotMatch(dry.stderr, /send/);
  await assert.rejects(lstat(nowhere), { code: 'ENOENT' });
});

test('sync HOST/SRC DST downloads a tree, then skips what the quick check finds unchanged, --checksum replaces it', async () => {
  const first = await sync(remote(), back);
  assertExit(first, 0, 'sync down');
  assert.deepEqual(await listTree(back), await listTree(src));
  assert.ok((await readFile(join(back, 'sub', 'big.bin'))).equals(big));
  assert.ok((await lstat(join(back, 'empty'))).isDirectory());
  await rewriteKeepingSizeAndMtime(join(back, 'a.txt'), 'alpha ALPHA alpha\n');
  const quick = await sync(remote(), back);
  assertExit(quick, 0, 'sync down, quick check');
  assert.match(quick.stderr, /sync: received 0 files .* skipped 3 unchanged/);
  assert.equal(await readFile(join(back, 'a.txt'), 'utf8'), 'alpha ALPHA alpha\n', 'skipped, not read');
  const checked = await sync(remote(), back, '--checksum');
  assertExit(checked, 0, 'sync down --checksum');
  assert.equal(await readFile(join(back, 'a.txt'), 'utf8'), 'ALPHA alpha alpha\n');
});

test('sync down replaces a changed file byte-exact', async () => {
  const local = Buffer.from(big);
  randomBytes(4096).copy(local, 500_000);
  await writeFile(join(back, 'sub', 'big.bin'), local);
  const { result } = await counted('serverToClient', () => sync(remote(), back));
  assertExit(result, 0, 'sync down, changed');
  assert.ok((await readFile(join(back, 'sub', 'big.bin'))).equals(big), 'byte-exact');
});

test('sync down sends a changed file as a delta download: a small part of it on the wire', async () => {
  const local = Buffer.from(big);
  randomBytes(4096).copy(local, 500_000);
  await writeFile(join(back, 'sub', 'big.bin'), local);
  const { result, bytes } = await counted('serverToClient', () => sync(remote(), back));
  assertExit(result, 0, 'sync down, changed');
  assert.ok((await readFile(join(back, 'sub', 'big.bin'))).equals(big), 'byte-exact');
  assert.ok(bytes < big.length / 4, `${bytes} bytes server->client for a ${big.length}-byte file`);
});

test('sync down --delete removes local extras, a link as a link (its target outside stays), never without the flag', async () => {
  const outside = join(dir, 'outside.txt');
  await writeFile(outside, 'not in the tree\n');
  await symlink(outside, join(back, 'escape'));
  await mkdir(join(back, 'extra', 'inner'), { recursive: true });
  await writeFile(join(back, 'extra', 'inner', 'x'), 'x');
  const kept = await sync(remote(), back);
  assertExit(kept, 0, 'sync down without --delete');
  assert.ok((await lstat(join(back, 'extra', 'inner', 'x'))).isFile());
  const dry = await sync(remote(), back, '--delete', '-n');
  assertExit(dry, 0, 'sync down --delete -n');
  assert.match(dry.stderr, /would delete escape/);
  assert.ok((await lstat(join(back, 'escape'))).isSymbolicLink(), 'a dry run changes nothing');
  const removed = await sync(remote(), back, '--delete');
  assertExit(removed, 0, 'sync down --delete');
  assert.deepEqual(await listTree(back), await listTree(src));
  assert.equal(await readFile(outside, 'utf8'), 'not in the tree\n', 'the link was removed, not followed');
});

test('sync down: a local directory in the way of a remote file fails the run (SYNC_CONFLICT, exit 8) naming only sync flags, and the --json summary gives its code', async () => {
  await rm(join(back, 'a.txt'));
  await mkdir(join(back, 'a.txt', 'inner'), { recursive: true });
  const refused = await sync(remote(), back);
  assertExit(refused, 8, 'sync down with a directory in the way');
  assert.match(
    refused.stderr,
    /^conflict a\.txt: a directory is in the way \(use --delete to replace it\)$/m,
  );
  assertConflictLine(refused, '1 entry');
  assert.ok((await lstat(join(back, 'a.txt', 'inner'))).isDirectory(), 'nothing removed without --delete');
  const json = await sync(remote(), back, '--json');
  assertExit(json, 8, 'sync down --json with a directory in the way');
  const events = json.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; action?: string; path?: string; code?: string });
  assert.ok(events.some((e) => e.type === 'sync-action' && e.action === 'conflict' && e.path === 'a.txt'));
  assert.ok(
    events.some((e) => e.type === 'summary' && e.code === 'SYNC_CONFLICT'),
    json.stdout,
  );
  const replaced = await sync(remote(), back, '--delete');
  assertExit(replaced, 0, 'sync down --delete with a directory in the way');
  assert.deepEqual(await listTree(back), await listTree(src));
});

test('sync down never makes a link the server lists that leads out of the tree', async () => {
  await symlink('../../outside.txt', join(root, 'mirror', 'evil'));
  const result = await sync(remote(), back, '--json');
  assertExit(result, 0, 'sync down with a hostile link');
  await assert.rejects(lstat(join(back, 'evil')), { code: 'ENOENT' });
  const events = result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; path?: string; reason?: string });
  assert.ok(
    events.some((e) => e.type === 'entry-skipped' && e.path === 'evil'),
    'reported as skipped',
  );
  const summary = events.find((e) => e.type === 'sync-summary');
  assert.ok(summary, 'a sync-summary line ends the --json output');
});

test('sync gives a file whose mode alone changed the new mode both ways, without sending it', async () => {
  await writeFile(join(src, 'run.sh'), '#!/bin/sh\n');
  await chmod(join(src, 'run.sh'), 0o644);
  assertExit(await sync(src, remote()), 0, 'sync up the new file');
  await chmod(join(src, 'run.sh'), 0o755);
  const up = await sync(src, remote(), '-v');
  assertExit(up, 0, 'sync up a mode change');
  assert.match(up.stderr, /set mode and mtime of run\.sh/);
  assert.match(up.stderr, /sync: sent 0 files .*\(1 given a new mode or mtime\)/);
  assert.equal((await stat(join(root, 'mirror', 'run.sh'))).mode & 0o7777, 0o755);

  assertExit(await sync(remote(), back), 0, 'sync down the new file');
  assert.equal((await stat(join(back, 'run.sh'))).mode & 0o7777, 0o755);
  await chmod(join(root, 'mirror', 'run.sh'), 0o700);
  const down = await sync(remote(), back, '-v');
  assertExit(down, 0, 'sync down a mode change');
  assert.match(down.stderr, /set mode and mtime of run\.sh/);
  assert.match(down.stderr, /sync: received 0 files .*\(1 given a new mode or mtime\)/);
  assert.equal((await stat(join(back, 'run.sh'))).mode & 0o7777, 0o700);
});

test('sync up of many changed files sends each as a delta; the re-sync then asks the server for nothing but the listing', async () => {
  const many = join(src, 'many');
  await mkdir(many);
  const files = Array.from({ length: 6 }, (_, i) => join(many, `m${i}.bin`));
  for (const path of files) await writeFile(path, randomBytes(40_000));
  assertExit(await sync(src, remote()), 0, 'sync up the new files');
  for (const path of files) {
    const data = await readFile(path);
    randomBytes(200).copy(data, 20_000);
    await writeFile(path, data);
  }
  const changed = await sync(src, remote());
  assertExit(changed, 0, 'sync up the changed files');
  assert.match(changed.stderr, /sync: sent 6 files \(0 new, 6 changed\)/);
  for (const path of files)
    assert.ok(
      (await readFile(join(root, 'mirror', 'many', path.slice(many.length + 1)))).equals(
        await readFile(path),
      ),
    );
  const saved = /, the deltas of 6 files saved ([\d.]+) KiB/.exec(changed.stderr);
  assert.ok(saved && Number(saved[1]) > 150, changed.stderr);
  // Nothing changed since: no file, no directory (their mtimes are right), one session, the listing alone.
  const again = await runFerry(['--home', clientHome, 'sync', src, remote(), '--expect', serverId, '--json']);
  assertExit(again, 0, 'the re-sync');
  const actions = again.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; action?: string })
    .filter((e) => e.type === 'sync-action' && e.action !== 'skip');
  assert.deepEqual(actions, []);
});

test('sync -n names a link out of the tree it leaves out, as the real run does, in lines and in --json', async () => {
  const tree = join(dir, 'dry-links');
  await mkdir(tree);
  await writeFile(join(tree, 'kept.txt'), 'kept\n');
  await symlink('../../outside-of-the-tree', join(tree, 'out'));
  const dry = await sync(tree, remote('-dry-links'), '-n');
  assertExit(dry, 0, 'sync -n');
  assert.match(
    dry.stderr,
    /^ferry: skipped dry-links\/out: symbolic link points outside the tree$/m,
    dry.stderr,
  );
  const json = await sync(tree, remote('-dry-links'), '-n', '--json');
  assertExit(json, 0, 'sync -n --json');
  const events = json.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(
    events.some((e) => e['type'] === 'entry-skipped' && e['path'] === 'dry-links/out'),
    json.stdout,
  );
  const real = await sync(tree, remote('-dry-links'));
  assertExit(real, 0, 'sync');
  assert.match(
    real.stderr,
    /ferry: skipped dry-links\/out: symbolic link points outside the tree/,
    real.stderr,
  );
});
