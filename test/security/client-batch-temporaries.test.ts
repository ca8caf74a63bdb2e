// A client killed mid GET_BATCH leaves hidden `.ferry-batch-*` temporaries beside the files it was placing
// (PROTOCOL.md §5.20). A later batched download into that directory sweeps them by age, the server's policy
// for its own batch temporaries (docs/SECURITY.md "Batch temporaries"): only that exact name pattern, only
// regular files of the user's own (a link of that name is not followed nor removed; another local user's
// file in a shared folder stays, stop 30), never a young one (another live client's),
// and `sync --delete` never takes one as an entry of DST. `sync` down walks all of DST, so it sweeps what it
// sees by the same policy, also in a directory no batch of it writes into (stop 27: such a leftover stayed).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { getFiles, syncTree } from '../../src/client/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { contentsUnder } from '../helpers/tree-snapshot.js';
import { HostileServer, dir, file } from './hostile-server.js';

const LEFTOVER = '.ferry-batch-0123456789abcdef-0';
/** A leftover of another local user's (uid 65534, when the test runs as root). */
const OTHERS = '.ferry-batch-0123456789abcdef-4';
const asRoot = process.geteuid?.() === 0;

interface Rig {
  work: string;
  dest: string;
  hostile: HostileServer;
}

/** `dest/tree` holds what a killed client left, and names that only look like it. */
async function startRig(t: TestContext): Promise<Rig> {
  const work = await makeTempDir('ferry-batch-temps-');
  const hostile = await HostileServer.start();
  t.after(async () => {
    await hostile.close();
    await removeTempDir(work);
  });
  const dest = join(work, 'dest');
  const tree = join(dest, 'tree');
  await mkdir(join(tree, '.ferry-batch-0123456789abcdef-2'), { recursive: true });
  await writeFile(join(work, 'outside.txt'), 'outside\n');
  await writeFile(join(tree, LEFTOVER), 'left by a killed client\n');
  await symlink('../../outside.txt', join(tree, '.ferry-batch-0123456789abcdef-1'));
  await writeFile(join(tree, '.ferry-batch-notours'), 'a user file\n');
  await writeFile(join(tree, '.ferry-batch-0123456789abcdef-3.keep'), 'a user file\n');
  // Another user's leftover in a shared folder (stop 30): theirs to remove. Only root can give it away.
  await writeFile(join(tree, OTHERS), 'left by another user\n');
  if (asRoot) await chown(join(tree, OTHERS), 65534, 65534);
  hostile.script = { entries: [file('a.txt'), file('b.txt'), file('c.txt')] };
  return { work, dest, hostile };
}

async function getTree(rig: Rig, temporaryMaxAgeMs?: number): Promise<void> {
  await getFiles({
    server: rig.hostile.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    remotePaths: ['tree'],
    localDir: rig.dest,
    recursive: true,
    overwrite: true,
    ...(temporaryMaxAgeMs === undefined ? {} : { batchTemporaryMaxAgeMs: temporaryMaxAgeMs }),
  });
}

test('get -r sweeps the old `.ferry-batch-*` temporaries of a killed client from a directory it batches into, and nothing else', async (t) => {
  const rig = await startRig(t);
  // Every temporary counts as old: what must stay, stays by its name or kind alone.
  await getTree(rig, 0);
  const after = await contentsUnder(join(rig.dest, 'tree'));
  assert.equal(after[LEFTOVER], undefined, 'the leftover temporary is gone');
  assert.equal(after['.ferry-batch-0123456789abcdef-1'], '-> ../../outside.txt', 'a link of that name stays');
  assert.equal(await readFile(join(rig.work, 'outside.txt'), 'utf8'), 'outside\n');
  assert.equal(after['.ferry-batch-0123456789abcdef-2'], 'dir', 'a directory of that name stays');
  assert.notEqual(after['.ferry-batch-notours'], undefined, 'another name stays');
  assert.notEqual(after['.ferry-batch-0123456789abcdef-3.keep'], undefined, 'a longer name stays');
  if (asRoot) assert.notEqual(after[OTHERS], undefined, "another user's temporary stays");
  for (const name of ['a.txt', 'b.txt', 'c.txt']) assert.match(after[name] ?? '', /^[0-9a-f]{64}$/);
  // The batch's own temporaries are gone too.
  assert.deepEqual(
    Object.keys(after).filter((name) => /^\.ferry-batch-[0-9a-f]{16}-\d+$/.test(name)),
    ['.ferry-batch-0123456789abcdef-1', '.ferry-batch-0123456789abcdef-2', ...(asRoot ? [OTHERS] : [])],
  );
});

test('get -r leaves a young `.ferry-batch-*` temporary alone: it may be another live client`s', async (t) => {
  const rig = await startRig(t);
  await getTree(rig);
  const after = await contentsUnder(join(rig.dest, 'tree'));
  assert.notEqual(after[LEFTOVER], undefined, 'a temporary younger than an hour stays');
});

test('sync --delete neither compares nor removes a `.ferry-batch-*` temporary in DST', async (t) => {
  const rig = await startRig(t);
  await syncTree({
    server: rig.hostile.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    direction: 'download',
    localDir: join(rig.dest, 'tree'),
    remotePath: 'tree',
    delete: true,
  });
  const after = await contentsUnder(join(rig.dest, 'tree'));
  assert.notEqual(after[LEFTOVER], undefined, 'the young temporary stays');
  assert.equal(after['.ferry-batch-notours'], undefined, 'a user file of another name is an extra entry');
});

test('sync down sweeps an old `.ferry-batch-*` leftover in a directory none of its batches writes into, by the same policy', async (t) => {
  const rig = await startRig(t);
  const tree = join(rig.dest, 'tree');
  // `quiet` holds only a file identical to SRC's: the sync writes nothing there.
  const quiet = join(tree, 'quiet');
  await mkdir(join(quiet, '.ferry-batch-0123456789abcdef-2'), { recursive: true });
  await writeFile(join(quiet, 'same.txt'), '0123456789');
  await chmod(join(quiet, 'same.txt'), 0o644);
  await utimes(join(quiet, 'same.txt'), 1_700_000_000, 1_700_000_000);
  await writeFile(join(quiet, LEFTOVER), 'left by a killed client\n');
  await symlink('../../../outside.txt', join(quiet, '.ferry-batch-0123456789abcdef-1'));
  await writeFile(join(quiet, '.ferry-batch-notours'), 'a user file\n');
  await chmod(quiet, 0o755);
  await utimes(quiet, 1_700_000_000, 1_700_000_000);
  rig.hostile.script = { entries: [file('a.txt'), dir('quiet'), file('quiet/same.txt')] };
  await syncTree({
    server: rig.hostile.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    direction: 'download',
    localDir: tree,
    remotePath: 'tree',
    // Every temporary counts as old: what must stay, stays by its name or kind alone.
    batchTemporaryMaxAgeMs: 0,
  });
  const asked = rig.hostile.received.flatMap((m) =>
    m.type === 'GET_REQUEST' ? [m.path] : m.type === 'GET_BATCH' ? m.paths : [],
  );
  assert.deepEqual(asked, ['tree/a.txt'], 'nothing of quiet was fetched');
  const after = await contentsUnder(quiet);
  assert.equal(after[LEFTOVER], undefined, 'the leftover temporary is gone');
  assert.equal(
    after['.ferry-batch-0123456789abcdef-1'],
    '-> ../../../outside.txt',
    'a link of that name stays',
  );
  assert.equal(await readFile(join(rig.work, 'outside.txt'), 'utf8'), 'outside\n');
  assert.equal(after['.ferry-batch-0123456789abcdef-2'], 'dir', 'a directory of that name stays');
  assert.notEqual(after['.ferry-batch-notours'], undefined, 'another name stays');
  assert.equal(await readFile(join(quiet, 'same.txt'), 'utf8'), '0123456789', 'the identical file stays');
  // The top directory's leftover went too (its batch of a.txt swept it, or the walk did).
  assert.equal((await contentsUnder(tree))[LEFTOVER], undefined);
});
