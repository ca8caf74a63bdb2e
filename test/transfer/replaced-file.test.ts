// Issue 16: a finish that replaces a file (`--overwrite`, both sides: FilePartialStore is the server's
// partial store and the client's) does not wait for the filesystem to free the old file. It holds the old
// inode across the rename and lets go only once the new file is placed and its directory durable; the
// freeing then runs without anyone waiting (0.26 s inside rename(2) for 1 GiB on ext4, before).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, readlink, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FilePartialStore, resolveUnderRoot, type RootPath } from '../../src/transfer/index.js';
import { replacedFilesFreed } from '../../src/transfer/replaced-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** Two chunks of the smallest size: a file with a log, the files a hold is for (one chunk holds nothing). */
const CHUNK_BYTES = 65536;
const NEW = Buffer.alloc(CHUNK_BYTES + 10, 'new content ');

/** What this process's open descriptors point at (a removed file reads `PATH (deleted)`). */
async function openPaths(): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd'))
    out.push(await readlink(`/proc/self/fd/${fd}`).catch(() => ''));
  return out;
}

async function setUp(
  t: TestContext,
  freeReplaced?: (release: () => Promise<void>) => void,
): Promise<{ store: FilePartialStore<string>; target: RootPath }> {
  const dir = await makeTempDir('ferry-replaced-');
  t.after(() => removeTempDir(dir));
  const partials = join(dir, 'partials');
  await mkdir(partials);
  const store = new FilePartialStore<string>(
    {
      pathsOf: (key) => ({
        dataPath: join(partials, `${key}.part`),
        logPath: join(partials, `${key}.state`),
      }),
    },
    freeReplaced ? { freeReplaced } : {},
  );
  return { store, target: await resolveUnderRoot(dir, ['out', 'f'], { createDirs: true }) };
}

async function place(
  store: FilePartialStore<string>,
  target: RootPath,
  overwrite: boolean,
  bytes: Buffer = NEW,
): Promise<void> {
  const header = { size: bytes.length, mtimeMs: 1_600_000_000_000, chunkBytes: CHUNK_BYTES };
  const partial = await store.open('id', header, { fresh: true, keepLog: bytes.length > CHUNK_BYTES });
  await partial.write(0, bytes);
  await partial.finish(target, { mode: 0o644, mtimeMs: header.mtimeMs, overwrite });
}

test('a finish over an existing file places the new one with the old inode still held, freed only when let go', async (t) => {
  const releases: Array<() => Promise<void>> = [];
  const { store, target } = await setUp(t, (release) => releases.push(release));
  await writeFile(target.path, 'the old content');
  const oldInode = (await stat(target.path)).ino;

  await place(store, target, true);
  assert.deepEqual(await readFile(target.path), NEW, 'the new file is in place when finish resolves');
  assert.notEqual((await stat(target.path)).ino, oldInode);
  assert.equal(releases.length, 1, 'the finish left exactly one replaced file to free');
  assert.ok(
    (await openPaths()).includes(`${target.path} (deleted)`),
    'the replaced inode is still held (its freeing is not inside the finish)',
  );

  await releases[0]!();
  assert.ok(!(await openPaths()).includes(`${target.path} (deleted)`), 'let go: nothing holds it any more');
});

test('a finish with nothing to replace, without overwrite, or of one chunk, holds nothing', async (t) => {
  const releases: Array<() => Promise<void>> = [];
  const { store, target } = await setUp(t, (release) => releases.push(release));
  await place(store, target, false);
  assert.deepEqual(await readFile(target.path), NEW);
  const other = await setUp(t, (release) => releases.push(release));
  await place(other.store, other.target, true);
  assert.deepEqual(await readFile(other.target.path), NEW);
  const small = await setUp(t, (release) => releases.push(release));
  await writeFile(small.target.path, 'the old content');
  await place(small.store, small.target, true, Buffer.from('one chunk'));
  assert.equal(await readFile(small.target.path, 'utf8'), 'one chunk');
  assert.equal(releases.length, 0);
});

test('by default the replaced file is freed without waiting, and replacedFilesFreed sees it end', async (t) => {
  const { store, target } = await setUp(t);
  await writeFile(target.path, 'the old content');
  await truncate(target.path, 64 * 1024 * 1024); // sparse: large, with no blocks to write or free
  await place(store, target, true);
  await replacedFilesFreed();
  assert.deepEqual(await readFile(target.path), NEW);
  assert.ok(!(await openPaths()).includes(`${target.path} (deleted)`), 'nothing of the old file is held');
});
