import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeTempDir, removeTempDir } from './temp-dir.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./lower-case-fs.py', import.meta.url));

/**
 * Mounts a case-insensitive file system for the test's duration (lower-case-fs.py: a FUSE passthrough that
 * stores every name in lower case, so `SECRETS/key.txt` is `secrets/key.txt`, as on vfat, exFAT, CIFS, ext4
 * casefold or macOS; this kernel has none of them) and returns its mount point. Throws (never skips) when it
 * cannot: it needs root, /dev/fuse and the system's python3-fusepy.
 *
 * With `writeGate` (a path outside the mount), its writes of 32 KiB or more wait while that path exists: a
 * disk that stopped taking data, for as long as the test wants (create it to hold, remove it to go on).
 */
export async function mountLowerCaseFs(
  t: TestContext,
  options: { writeGate?: string } = {},
): Promise<string> {
  const work = await makeTempDir('ferry-lower-case-fs-');
  const backing = join(work, 'backing');
  const mount = join(work, 'mount');
  await mkdir(backing);
  await mkdir(mount);
  const gate = options.writeGate === undefined ? [] : [options.writeGate];
  const child = spawn('/usr/bin/python3', [SCRIPT, backing, mount, ...gate], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const lines = createInterface({ input: child.stdout });
  // Its `init` prints "ready" once the kernel has it mounted; an exit first is a failure to mount.
  const ready = await Promise.race([
    once(lines, 'line').then(([line]) => line === 'ready'),
    exited.then(() => false),
  ]);
  if (!ready) {
    child.kill();
    await removeTempDir(work);
    throw new Error(
      `cannot mount the lower-case FUSE file system (needs root, /dev/fuse, python3-fusepy): ${stderr}`,
    );
  }
  t.after(async () => {
    // Lazy: a process of a failed test may still hold a file there; the passthrough ends once unmounted.
    await run('umount', ['-l', mount]);
    await exited;
    await removeTempDir(work);
  });
  return mount;
}
