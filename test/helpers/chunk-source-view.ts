// A real open file seen as a ChunkSource whose methods a test replaces or counts (its descriptor loans: a
// reader on another thread borrows it, `lendFd`, and must give it back, `returnFd`).
import type { TestContext } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceFile, type ChunkSource } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

/**
 * `bytes` in a file of its own (in a fresh directory named from `prefix`), open; closed and removed once the
 * test is over.
 */
export async function openBytesFile(
  t: TestContext,
  prefix: string,
  bytes: Buffer,
): Promise<{ file: SourceFile; path: string }> {
  const dir = await makeTempDir(prefix);
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'file.bin');
  await writeFile(path, bytes);
  const file = await SourceFile.open(path, { noFollow: true });
  t.after(() => file.close());
  return { file, path };
}

/** `file` as a ChunkSource, its methods bound to it, with `changes` in place of its own. */
export function viewOf(file: SourceFile, changes: Partial<ChunkSource>): ChunkSource {
  return {
    size: file.size,
    mtimeMs: file.mtimeMs,
    mode: file.mode,
    identity: file.identity,
    readExactly: file.readExactly.bind(file),
    readvExactly: file.readvExactly.bind(file),
    chunkHash: file.chunkHash.bind(file),
    assertUnchanged: file.assertUnchanged.bind(file),
    close: file.close.bind(file),
    lendFd: file.lendFd.bind(file),
    returnFd: file.returnFd.bind(file),
    ...changes,
  };
}

/** `file` as a ChunkSource with its descriptor loans counted. */
export function counted(file: SourceFile): { source: ChunkSource; lent: () => number; out: () => number } {
  let lent = 0;
  let out = 0;
  const source = viewOf(file, {
    lendFd: () => {
      lent++;
      out++;
      return file.lendFd();
    },
    returnFd: () => {
      out--;
      file.returnFd();
    },
  });
  return { source, lent: () => lent, out: () => out };
}
