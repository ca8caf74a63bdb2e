import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RESERVED_ROOT_COMPONENT } from '../../src/protocol/index.js';

/**
 * Writes `bytes` real bytes at the start of the one partial (`.part`) open under the server root `root`, as
 * received data would: a partial whose session ends keeps its promise of disk only for what it holds
 * (StorageLimits.settle), so a test of what an interrupted upload holds makes it hold something.
 */
export async function fillOpenPartial(root: string, bytes: number): Promise<void> {
  const dir = join(root, RESERVED_ROOT_COMPONENT, 'partial');
  const parts = (await readdir(dir)).filter((name) => name.endsWith('.part'));
  if (parts.length !== 1) throw new Error(`expected one partial, found ${parts.length}`);
  const file = await open(join(dir, parts[0]!), 'r+');
  try {
    await file.write(Buffer.alloc(bytes, 0x5a), 0, bytes, 0);
    await file.sync();
  } finally {
    await file.close();
  }
}
