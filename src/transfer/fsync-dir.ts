import { open } from 'node:fs/promises';

/**
 * Flushes a directory so a rename or a new entry in it survives a crash: without it the file's bytes may
 * be durable while the name pointing at them is not.
 */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
