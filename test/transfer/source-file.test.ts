// SourceFile.assertUnchanged (PROTOCOL.md §5.6.1): the sender's only way to know the bytes it read and hashed
// come from one version of the file.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, open, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceFile } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

const MTIME_S = 1_700_000_000;

async function sourceFixture(t: TestContext): Promise<{ path: string; source: SourceFile }> {
  const dir = await makeTempDir('ferry-source-');
  const path = join(dir, 'f.bin');
  await writeRandomFile(path, 10_000);
  await utimes(path, MTIME_S, MTIME_S);
  const source = await SourceFile.open(path);
  t.after(async () => {
    await source.close();
    await removeTempDir(dir);
  });
  return { path, source };
}

test('SourceFile.assertUnchanged passes for a file that was only read', async (t) => {
  const { source } = await sourceFixture(t);
  await source.chunkHash(0, 64 * 1024);
  await source.assertUnchanged();
});

test('SourceFile.assertUnchanged fails with SOURCE_CHANGED for a rewrite that keeps the size and puts the mtime back (ctime moved)', async (t) => {
  const { path, source } = await sourceFixture(t);
  const handle = await open(path, 'r+');
  await handle.write(Buffer.from('changed'), 0, 7, 5000);
  await handle.close();
  await utimes(path, MTIME_S, MTIME_S);
  await assert.rejects(source.assertUnchanged(), { code: 'SOURCE_CHANGED', message: /ctime moved/ });
});

test('SourceFile.assertUnchanged fails with SOURCE_CHANGED naming both sizes for a file that grew', async (t) => {
  const { path, source } = await sourceFixture(t);
  await appendFile(path, 'x');
  await assert.rejects(source.assertUnchanged(), { code: 'SOURCE_CHANGED', message: /size 10000 -> 10001/ });
});
