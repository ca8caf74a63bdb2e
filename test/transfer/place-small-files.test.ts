// placeSmallFiles (PROTOCOL.md §5.14) on real files: the one-file path's placing rules, per entry.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readdir, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  identityOf,
  placeSmallFiles,
  placeStagedFiles,
  stageSmallFiles,
  type SmallFile,
  type SmallFileOutcome,
} from '../../src/transfer/index.js';
import { smallFileDigest } from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK = 65536;

async function rig(t: TestContext): Promise<{ temp: string; dir: string }> {
  const base = await makeTempDir('ferry-place-small-');
  t.after(() => removeTempDir(base));
  await mkdir(join(base, 'temp'));
  await mkdir(join(base, 'root', 'd'), { recursive: true });
  return { temp: join(base, 'temp'), dir: join(base, 'root', 'd') };
}

/** The outcomes without a placed file's identity (checked on its own where it matters). */
function statuses(outcomes: readonly SmallFileOutcome[]): Array<Record<string, unknown>> {
  return outcomes.map((o) => (o.status === 'placed' ? { status: 'placed' } : o));
}

function file(dir: string, name: string, text: string, more: Partial<SmallFile> = {}): SmallFile {
  const data = Buffer.from(text);
  return {
    data,
    fileDigest: smallFileDigest(data, CHUNK),
    chunkBytes: CHUNK,
    mode: 0o6777,
    mtimeMs: 1_600_000_000_123,
    dir,
    path: join(dir, name),
    overwrite: false,
    compareExisting: false,
    ...more,
  };
}

test('placeSmallFiles places each file with the received mode and its mtime, and leaves no temporary', async (t) => {
  const { temp, dir } = await rig(t);
  const outcomes = await placeSmallFiles(temp, [file(dir, 'a', 'alpha'), file(dir, 'b', '')]);
  assert.deepEqual(statuses(outcomes), [{ status: 'placed' }, { status: 'placed' }]);
  // The identity the server remembers to recognise the file as its own later (SourceFile.identity).
  const placed = outcomes[0] as { identity?: Uint8Array };
  assert.deepEqual(Buffer.from(placed.identity!), identityOf(await lstat(join(dir, 'a'), { bigint: true })));
  assert.equal(await readFile(join(dir, 'a'), 'utf8'), 'alpha');
  const st = await stat(join(dir, 'a'));
  assert.equal(st.mode & 0o7777, 0o755, 'setuid, setgid, sticky and group/other write dropped');
  assert.equal(Math.floor(st.mtimeMs), 1_600_000_000_123);
  assert.deepEqual(await readdir(temp), []);
});

test('placeSmallFiles never replaces a file that appeared after resolution (taken, to be decided again), unless OVERWRITE', async (t) => {
  const { temp, dir } = await rig(t);
  await writeFile(join(dir, 'x'), 'theirs');
  const outcomes = await placeSmallFiles(temp, [file(dir, 'x', 'ours'), file(dir, 'y', 'new')]);
  assert.deepEqual(statuses(outcomes), [{ status: 'taken' }, { status: 'placed' }]);
  assert.equal(await readFile(join(dir, 'x'), 'utf8'), 'theirs');
  assert.deepEqual(statuses(await placeSmallFiles(temp, [file(dir, 'x', 'ours', { overwrite: true })])), [
    { status: 'placed' },
  ]);
  assert.equal(await readFile(join(dir, 'x'), 'utf8'), 'ours');
  assert.deepEqual(await readdir(temp), []);
});

test('placeSmallFiles refuses every file whose directory became a symbolic link after resolution', async (t) => {
  const { temp, dir } = await rig(t);
  const elsewhere = join(dir, '..', 'elsewhere');
  await mkdir(elsewhere);
  await symlink(join(elsewhere, 'target'), join(dir, 'link'));
  const moved = join(dir, '..', 'moved');
  const entries = [file(dir, 'a', 'a'), file(dir, 'link', 'l', { overwrite: true })];
  // The directory resolved earlier is swapped for a link before placing.
  await rename(dir, moved);
  await symlink(elsewhere, dir);
  const outcomes = await placeSmallFiles(temp, entries);
  assert.deepEqual(outcomes, [
    { status: 'refused', code: 'PATH_ESCAPES_ROOT' },
    { status: 'refused', code: 'PATH_ESCAPES_ROOT' },
  ]);
  assert.deepEqual(await readdir(elsewhere), []);
  assert.deepEqual(await readdir(temp), []);
});

test('placeSmallFiles refuses bytes that do not match their digest before writing anything, and compares an existing file', async (t) => {
  const { temp, dir } = await rig(t);
  await writeFile(join(dir, 'same'), 'same');
  await writeFile(join(dir, 'other'), 'other');
  const bad = { ...file(dir, 'bad', 'bad'), fileDigest: smallFileDigest(Buffer.from('good'), CHUNK) };
  const outcomes = await placeSmallFiles(temp, [
    bad,
    file(dir, 'same', 'same', { compareExisting: true }),
    file(dir, 'other', 'mine!', { compareExisting: true }),
  ]);
  assert.deepEqual(outcomes, [
    { status: 'refused', code: 'DIGEST_MISMATCH' },
    { status: 'identical' },
    { status: 'refused', code: 'FILE_EXISTS' },
  ]);
  assert.deepEqual((await readdir(dir)).sort(), ['other', 'same']);
  assert.deepEqual(await readdir(temp), []);
});

test('placeSmallFiles never renames over a name that became a symbolic link, even with OVERWRITE', async (t) => {
  const { temp, dir } = await rig(t);
  const outside = join(dir, '..', 'outside.txt');
  await writeFile(outside, 'keep');
  await symlink(outside, join(dir, 'name'));
  const outcomes = await placeSmallFiles(temp, [file(dir, 'name', 'x', { overwrite: true })]);
  assert.deepEqual(outcomes, [{ status: 'refused', code: 'PATH_ESCAPES_ROOT' }]);
  assert.equal(await readFile(outside, 'utf8'), 'keep');
  assert.deepEqual(await readdir(temp), []);
});

test('stageSmallFiles writes temporaries with the mode and mtime and no final name; placeStagedFiles places them and removes every temporary', async (t) => {
  const { temp, dir } = await rig(t);
  await writeFile(join(dir, 'taken'), 'theirs');
  const bad = { ...file(dir, 'bad', 'bad'), fileDigest: smallFileDigest(Buffer.from('good'), CHUNK) };
  const files = [file(dir, 'a', 'alpha'), bad, file(dir, 'taken', 'ours')];
  const staged = await stageSmallFiles(temp, files);
  assert.equal(staged[0]!.status, 'staged');
  assert.deepEqual(staged[1], { status: 'refused', code: 'DIGEST_MISMATCH' });
  assert.equal(staged[2]!.status, 'staged');
  // Staged: the bytes, mode and mtime are in the temporaries; nothing is under a final name yet.
  assert.deepEqual((await readdir(dir)).sort(), ['taken']);
  assert.equal((await readdir(temp)).length, 2, 'no temporary for the entry refused before writing');
  const a = staged[0] as { temp: string };
  assert.equal(await readFile(a.temp, 'utf8'), 'alpha');
  const st = await stat(a.temp);
  assert.equal(st.mode & 0o7777, 0o755);
  assert.equal(Math.floor(st.mtimeMs), 1_600_000_000_123);
  const placements = [0, 2].map((index) => ({
    temp: (staged[index] as { temp: string }).temp,
    dir,
    path: files[index]!.path,
    overwrite: false,
  }));
  const outcomes = await placeStagedFiles(placements);
  assert.deepEqual(statuses(outcomes), [{ status: 'placed' }, { status: 'taken' }]);
  assert.equal(await readFile(join(dir, 'a'), 'utf8'), 'alpha');
  assert.equal(await readFile(join(dir, 'taken'), 'utf8'), 'theirs');
  assert.deepEqual(await readdir(temp), []);
});

test('placeSmallFiles without OVERWRITE refuses a name that became a symbolic link or a directory, and never writes through it', async (t) => {
  const { temp, dir } = await rig(t);
  const outside = join(dir, '..', 'outside.txt');
  await writeFile(outside, 'keep');
  await symlink(outside, join(dir, 'link'));
  await symlink(join(dir, '..', 'missing'), join(dir, 'dangling'));
  await mkdir(join(dir, 'sub'));
  const outcomes = await placeSmallFiles(temp, [
    file(dir, 'link', 'x'),
    file(dir, 'dangling', 'y'),
    file(dir, 'sub', 'z'),
    file(dir, 'new', 'n'),
  ]);
  assert.deepEqual(statuses(outcomes), [
    { status: 'refused', code: 'PATH_ESCAPES_ROOT' },
    { status: 'refused', code: 'PATH_ESCAPES_ROOT' },
    { status: 'refused', code: 'PATH_INVALID' },
    { status: 'placed' },
  ]);
  assert.equal(await readFile(outside, 'utf8'), 'keep');
  await assert.rejects(lstat(join(dir, '..', 'missing')), { code: 'ENOENT' });
  assert.deepEqual(await readdir(join(dir, 'sub')), []);
  assert.equal(await readFile(join(dir, 'new'), 'utf8'), 'n');
  assert.deepEqual(await readdir(temp), []);
});

test('placeSmallFiles compares an existing file only where it was resolved: a directory swapped for a link since is refused', async (t) => {
  const { temp, dir } = await rig(t);
  await writeFile(join(dir, 'f'), 'walked');
  // Outside the root, a file of the same name the server may read; `d` becomes a link to its directory
  // after the entry was resolved (a local user on the server, in a shared root).
  const outside = join(dir, '..', '..', 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'f'), 'a guess');
  await rename(dir, `${dir}.moved`);
  await symlink(outside, dir);
  const [outcome] = await placeSmallFiles(temp, [file(dir, 'f', 'a guess', { compareExisting: true })]);
  // Before: `identical`, the answer to whether a file outside the root holds the client's guess.
  assert.equal(outcome!.status === 'refused' && outcome!.code, 'PATH_ESCAPES_ROOT');
});
