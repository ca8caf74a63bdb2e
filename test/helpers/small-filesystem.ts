import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { makeTempDir, removeTempDir } from './temp-dir.js';

const run = promisify(execFile);

/**
 * Mounts a fresh tmpfs of `bytes` (and at most `inodes` files and directories, when given) on a new temp
 * directory for the test's duration, so disk-full behaviour is tested against a real filesystem. Throws
 * (never skips) when it cannot: mounting needs root.
 */
export async function mountSmallFilesystem(t: TestContext, bytes: number, inodes?: number): Promise<string> {
  const dir = await makeTempDir('ferry-small-fs-');
  const limits = `size=${bytes}${inodes === undefined ? '' : `,nr_inodes=${inodes}`},mode=0700`;
  try {
    await run('mount', ['-t', 'tmpfs', '-o', limits, 'tmpfs', dir]);
  } catch (err) {
    await removeTempDir(dir);
    throw new Error(`cannot mount a ${bytes}-byte tmpfs (these tests need root)`, { cause: err });
  }
  t.after(async () => {
    // Lazy: a server of a failed test may still hold a file open there; the mount goes once it lets go.
    await run('umount', ['-l', dir]);
    await removeTempDir(dir);
  });
  return dir;
}
