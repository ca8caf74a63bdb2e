// A same-size delta upload of 16 MiB and more (leaf-sized blocks, PROTOCOL.md §5.15.2), end to end over
// loopback: the server places the old leaves while it signs and serves the session's PUT_COPY and PUT_DATA
// meanwhile (LeafPlacing, issue 16). The file is replaced byte-exact with literals at the start, the middle
// and the end; and a delta cut in the middle resumes from the verified chunks, the old file intact until
// the new one is verified.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { sendFiles } from '../../src/client/index.js';
import { DIRECT_WRITE_COUNTERS, SIGNING_COUNTERS } from '../../src/transfer/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import type { PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer } from '../helpers/proxied-server.js';

const CHUNK_BYTES = 1024 * 1024;
const OLD_BYTES = 16 * 1024 * 1024 + 4321;
const NAME = 'disk.img';

const old = randomBytes(OLD_BYTES);

async function replace(t: TestContext, next: Buffer, plan?: PlanFor, durableBatchBytes?: number) {
  const r = await startProxiedServer(t, 'ferry-delta-placing-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    retries: 3,
    plan,
    ...(durableBatchBytes === undefined ? {} : { durableBatchBytes }),
  });
  await writeFile(join(r.root, NAME), old);
  await mkdir(join(r.dir, 'src'));
  const source = join(r.dir, 'src', NAME);
  await writeFile(source, next);
  const { up } = await r.measure(() =>
    sendFiles({ ...r.connect, files: [source], chunkBytes: CHUNK_BYTES, overwrite: true }),
  );
  return { r, up, placed: await readFile(join(r.root, NAME)) };
}

/** Whether files in `dir` can be opened for direct I/O (not on every file system). */
async function directIo(dir: string): Promise<boolean> {
  try {
    await (
      await open(join(dir, '.probe'), constants.O_CREAT | constants.O_WRONLY | constants.O_DIRECT)
    ).close();
    return true;
  } catch {
    return false;
  }
}

test('a same-size delta upload of leaf-sized blocks, rewritten at the start, middle and end: replaced byte-exact, the literals sent', async (t) => {
  const next = Buffer.from(old);
  for (const at of [0, 8 * 1024 * 1024 + 5, OLD_BYTES - 3000]) randomBytes(2000).copy(next, at);
  const directBefore = DIRECT_WRITE_COUNTERS.bytes;
  const { r, up, placed } = await replace(t, next);
  assert.ok(placed.equals(next), 'the new file, byte-exact');
  // The old leaves went into the new file around the page cache (most of them: data arriving first wins).
  if (await directIo(r.dir))
    assert.ok(DIRECT_WRITE_COUNTERS.bytes - directBefore >= 8 * 1024 * 1024, 'placed with direct writes');
  // Three leaves of literals (64 KiB each) and the records: far below the file.
  assert.ok(up < 1024 * 1024, `${up} bytes sent for ${OLD_BYTES}`);
});

test('a same-size delta upload of leaf-sized blocks cut in the middle resumes and replaces the file byte-exact', async (t) => {
  // Literals from 6 MiB on (a new file of the same size), so the cut lands while chunks are sent.
  const next = Buffer.concat([old.subarray(0, 6 * 1024 * 1024), randomBytes(OLD_BYTES - 6 * 1024 * 1024)]);
  const { r, placed } = await replace(t, next, (i) =>
    i === 0 ? { cut: { afterBytes: 4 * 1024 * 1024 } } : undefined,
  );
  assert.equal(r.proxy.connections.length, 2, 'cut once, resumed once');
  assert.ok(placed.equals(next), 'byte-exact after the resume');
});

test('a same-size delta upload cut after its old file was written through resumes from the chunks verified alone, and replaces the file byte-exact', async (t) => {
  // Rewritten in place at three leaves: the client keeps those chunks (literals) until the signature is
  // whole, so the cut, inside the first chunk of literals, comes once every old leaf was written through and
  // the copies in place of the other chunks took theirs.
  const next = Buffer.from(old);
  for (const at of [CHUNK_BYTES + 5, 9 * CHUNK_BYTES, OLD_BYTES - 3000]) randomBytes(2000).copy(next, at);
  const writtenThrough = SIGNING_COUNTERS.writtenThroughLeaves;
  // Verified chunks durable every 4 MiB (a delta's batch: 4 x 1 MiB), so the resume holds some.
  const { r, placed } = await replace(
    t,
    next,
    (i) => (i === 0 ? { cut: { afterBytes: 32 * 1024 } } : undefined),
    CHUNK_BYTES,
  );
  assert.equal(r.proxy.connections.length, 2, 'cut once, resumed once');
  assert.ok(
    SIGNING_COUNTERS.writtenThroughLeaves - writtenThrough >= Math.floor(OLD_BYTES / (64 * 1024)),
    'every whole old leaf written through before the cut',
  );
  const started = r.events.flatMap((event) => (event.type === 'transfer-started' ? [event] : []));
  assert.equal(started.length, 2);
  // Only chunks verified (and durable) count on resume: the old leaves written through into chunks 1 and 9
  // (of literals: the one being sent at the cut, the other not yet) lie in the partial but are not held.
  const held = started[1]!.heldBytes;
  assert.ok(held > 0 && held <= OLD_BYTES - 2 * CHUNK_BYTES, `${held} bytes held on resume`);
  assert.ok(placed.equals(next), 'byte-exact after the resume');
});
