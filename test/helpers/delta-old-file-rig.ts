// A delta upload's old file as its server opens it (DeltaOldFile.open) for an offer of its own size, over a
// session reduced to what the signing uses (its record sender, the hashing budget, the delta memory): for
// tests that drive the real signing and placing over a real old file.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeltaBlocksMessage, PutOfferMessage } from '../../src/protocol/index.js';
import { DeltaOldFile } from '../../src/server/delta-old-file.js';
import { DeltaMemory } from '../../src/server/delta-memory.js';
import { FileHashCache } from '../../src/server/file-hash-cache.js';
import type { SessionIo } from '../../src/server/session-io.js';
import type { RootPath } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

export interface OpenedOldFile {
  /** The fresh directory (removed after the test), holding the old file. */
  readonly dir: string;
  readonly old: Buffer;
  readonly oldPath: string;
  readonly io: SessionIo;
  /** Open as the server opens it; closed after the test. */
  readonly file: DeltaOldFile;
}

/**
 * `size` random bytes in `old.bin` of a fresh directory (named from `prefix`), open as a delta upload's old
 * file; each DELTA_BLOCKS record the signing sends goes to `send` (with the old file's path), which it waits
 * for.
 */
export async function openOldFile(
  t: TestContext,
  prefix: string,
  size: number,
  send: (record: DeltaBlocksMessage, oldPath: string) => Promise<void> = () => Promise.resolve(),
): Promise<OpenedOldFile> {
  const dir = await makeTempDir(prefix);
  t.after(() => removeTempDir(dir));
  const old = randomBytes(size);
  const oldPath = join(dir, 'old.bin');
  await writeFile(oldPath, old);
  const io = {
    may: () => true,
    clientKey: Buffer.alloc(32, 1),
    ctx: { hashCache: new FileHashCache(), deltaMemory: new DeltaMemory() },
    send: (record: DeltaBlocksMessage) => send(record, oldPath),
  } as unknown as SessionIo;
  const offer = { delta: true, size } as PutOfferMessage;
  const file = await DeltaOldFile.open(io, offer, { path: oldPath } as RootPath);
  assert.ok(file, 'the old file is open for the delta');
  t.after(() => file.close());
  return { dir, old, oldPath, io, file };
}
