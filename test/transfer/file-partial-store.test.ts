// FilePartialStore: the port's conformance suite on real files, and the protections that only files have
// (docs/SECURITY.md): no link followed into a partial, the destination's directory re-checked before placing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  FilePartialStore,
  resolveUnderRoot,
  siblingTempName,
  type RootPath,
} from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { describePartialStore } from './partial-store-conformance.js';

const NAME = /^(\w+)\.(?:part|state|state\.tmp)$/;

async function storeIn(
  t: TestContext,
): Promise<{ dir: string; partials: string; store: FilePartialStore<string> }> {
  const dir = await makeTempDir('ferry-file-store-');
  t.after(() => removeTempDir(dir));
  const partials = join(dir, 'partials');
  await mkdir(partials);
  const store = new FilePartialStore<string>({
    pathsOf: (key) => ({ dataPath: join(partials, `${key}.part`), logPath: join(partials, `${key}.state`) }),
    listing: {
      dir: partials,
      keyOf: (name) => NAME.exec(name)?.[1],
    },
  });
  return { dir, partials, store };
}

async function readTarget(
  target: RootPath,
): Promise<{ bytes: Buffer; mode: number; mtimeMs: number } | undefined> {
  try {
    const { mode, mtimeMs } = await stat(target.path);
    return { bytes: await readFile(target.path), mode: mode & 0o7777, mtimeMs };
  } catch {
    return undefined;
  }
}

// The server's layout: keyed by id in a directory of its own, which it can list.
describePartialStore<string, RootPath>(
  'FilePartialStore (a directory of partials)',
  async (t) => {
    const { dir, store } = await storeIn(t);
    return {
      store,
      sweepable: store,
      key: (name) => name,
      target: (name) => resolveUnderRoot(dir, ['out', name], { createDirs: true }),
      placeForeign: (target, bytes) => writeFile(target.path, bytes),
      readTarget,
    };
  },
  { crash: false, list: true, closingRecord: true },
);

// The client's layout: keyed by the destination, beside it, one-chunk partials marked with a state file.
describePartialStore<RootPath, RootPath>(
  'FilePartialStore (beside the destination, marked)',
  async (t) => {
    const dir = await makeTempDir('ferry-file-store-');
    t.after(() => removeTempDir(dir));
    const out = (await resolveUnderRoot(dir, ['out', 'x'], { createDirs: true })).dir;
    const store = new FilePartialStore<RootPath>(
      {
        pathsOf: (target) => ({
          dataPath: join(target.dir, siblingTempName(target.name, 'ferry-part')),
          logPath: join(target.dir, siblingTempName(target.name, 'ferry-state')),
        }),
      },
      { markWithState: true },
    );
    return {
      store,
      key: (name) => ({ dir: out, name, path: join(out, name), exists: false }),
      target: (name) => resolveUnderRoot(dir, ['out', name], { createDirs: true }),
      placeForeign: (target, bytes) => writeFile(target.path, bytes),
      readTarget,
    };
  },
  { crash: false, list: false, closingRecord: true },
);

const HEADER = { size: 3000, mtimeMs: 1_700_000_000_000, chunkBytes: 64 * 1024 };
const LOGGED = { fresh: false, keepLog: true };

test('FilePartialStore writes the state file before the data file, so a data file of its own is always marked', async (t) => {
  const { partials, store } = await storeIn(t);
  // The data name is taken by a directory: the data file cannot be made, yet the state came first.
  await mkdir(join(partials, 'a.part'));
  await assert.rejects(store.open('a', HEADER, LOGGED));
  assert.deepEqual((await readdir(partials)).sort(), ['a.part', 'a.state']);
});

test('FilePartialStore never resumes through a link planted at the data name (PATH_ESCAPES_ROOT)', async (t) => {
  const { dir, partials, store } = await storeIn(t);
  const partial = await store.open('a', HEADER, LOGGED);
  await partial.write(0, Buffer.alloc(1024, 1));
  await partial.makeDurable([]);
  await partial.close();
  const victim = join(dir, 'victim');
  await writeFile(victim, 'not ferry');
  await unlink(join(partials, 'a.part'));
  await symlink(victim, join(partials, 'a.part'));
  await assert.rejects(store.open('a', HEADER, LOGGED), { code: 'PATH_ESCAPES_ROOT' });
  assert.equal(await readFile(victim, 'utf8'), 'not ferry', 'never truncated through the link');
});

test('FilePartialStore re-checks the destination directory before placing: one swapped for a link is PATH_ESCAPES_ROOT', async (t) => {
  const { dir, store } = await storeIn(t);
  const target = await resolveUnderRoot(dir, ['sub', 'f.bin'], { createDirs: true });
  const elsewhere = join(dir, 'elsewhere');
  await mkdir(elsewhere);
  const partial = await store.open('a', HEADER, LOGGED);
  await partial.write(0, Buffer.alloc(HEADER.size, 7));
  await rename(join(dir, 'sub'), join(dir, 'sub-moved'));
  await symlink(elsewhere, join(dir, 'sub'));
  await assert.rejects(partial.finish(target, { mode: 0o644, mtimeMs: 0, overwrite: false }), {
    code: 'PATH_ESCAPES_ROOT',
  });
  assert.deepEqual(await readdir(elsewhere), [], 'nothing placed through the link');
  await partial.close();
});
