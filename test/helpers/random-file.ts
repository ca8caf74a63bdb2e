import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

const BLOCK_BYTES = 1024 * 1024;

/** Writes `size` random bytes to `path` (created or truncated) and returns their SHA-256 in hex. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(Math.min(BLOCK_BYTES, Math.max(size, 1)));
  const handle = await open(path, 'w', 0o644);
  try {
    for (let written = 0; written < size;) {
      const length = Math.min(block.length, size - written);
      const piece = block.subarray(0, length);
      randomFillSync(piece);
      hash.update(piece);
      await handle.write(piece, 0, length);
      written += length;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** The SHA-256 of a file's contents, in hex, streamed so large files need little memory. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path, { highWaterMark: BLOCK_BYTES }))
    hash.update(piece as Buffer);
  return hash.digest('hex');
}
