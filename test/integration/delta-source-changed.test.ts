// A source that changes during a delta, both ways (issue 16): the transfer fails clearly (SOURCE_CHANGED) or
// places a correct file, never a wrong one, and the destination's old file stays intact until a verified new
// one replaces it. Real TCP on loopback, real files; the change is made synchronously from an event handler,
// keeping size and mtime, so only the sender's identity check (PROTOCOL.md §5.6.1) and the digest can tell.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerEvent } from '../../src/server/index.js';
import { getFiles, sendFiles, type GetFilesOptions } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';
import { rewriteKeepingSizeAndMtime } from '../helpers/rewrite-keeping-size-and-mtime.js';

const LEAF = 64 * 1024;
const FILE_BYTES = 2 * 1024 * 1024 + 4321;
const NAME = 'data.bin';
const MTIME_S = 1_700_000_000;

interface Rig extends ProxiedServer {
  dest: string;
  src: string;
  common: Omit<GetFilesOptions, 'remotePaths' | 'localDir'>;
}

async function rig(t: TestContext): Promise<Rig> {
  const r = await startProxiedServer(t, 'ferry-delta-changed-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    retries: 0,
  });
  const dest = join(r.dir, 'dest');
  const src = join(r.dir, 'src');
  for (const d of [dest, src]) await mkdir(d, { recursive: true });
  return {
    ...r,
    dest,
    src,
    common: { ...r.connect, overwrite: true, durableBatchBytes: LEAF },
  };
}

async function failure(run: Promise<unknown>): Promise<{ code: string } | undefined> {
  try {
    await run;
    return undefined;
  } catch (err) {
    return err as { code: string };
  }
}

/** An old file and a new one that shares its first half and differs after it. */
function versions(): { old: Buffer; next: Buffer } {
  const old = randomBytes(FILE_BYTES);
  const next = Buffer.concat([old.subarray(0, FILE_BYTES / 2), randomBytes(FILE_BYTES - FILE_BYTES / 2)]);
  return { old, next };
}

test('download: the server’s file changes while the delta streams: SOURCE_CHANGED, and the old local file is intact', async (t) => {
  const r = await rig(t);
  const { old, next } = versions();
  const served = join(r.root, NAME);
  await writeFile(served, next);
  await utimes(served, MTIME_S, MTIME_S);
  await writeFile(join(r.dest, NAME), old);
  let rewritten = false;
  const rewrite = (event: ServerEvent): void => {
    if (event.type === 'progress' && event.transfer.direction === 'download' && !rewritten) {
      rewritten = true;
      rewriteKeepingSizeAndMtime(served, FILE_BYTES - 3 * LEAF, MTIME_S);
    }
  };
  r.server.events.on('event', rewrite);
  const error = await failure(getFiles({ ...r.common, remotePaths: [NAME], localDir: r.dest }));
  r.server.events.off('event', rewrite);
  assert.ok(rewritten, 'the file was rewritten during the delta');
  assert.equal(error?.code, 'SOURCE_CHANGED');
  assert.ok((await readFile(join(r.dest, NAME))).equals(old), 'the old local file is intact');
  // Asked again, the changed file arrives whole and correct: the leaves held from the first attempt are
  // claimed, checked against the file as it is now, and only what holds is kept.
  await getFiles({ ...r.common, remotePaths: [NAME], localDir: r.dest });
  assert.ok(
    (await readFile(join(r.dest, NAME))).equals(await readFile(served)),
    'the changed file, byte-exact',
  );
});

test('download: the server’s file changes between a cut delta and its resume: the claim fails and the new file arrives correct', async (t) => {
  const r = await rig(t);
  const { old, next } = versions();
  const served = join(r.root, NAME);
  await writeFile(served, next);
  await writeFile(join(r.dest, NAME), old);
  r.proxy.setPlan((i) =>
    i === 0 ? { cut: { afterBytes: 600_000, direction: 'serverToClient' } } : undefined,
  );
  const cut = await failure(getFiles({ ...r.common, remotePaths: [NAME], localDir: r.dest }));
  assert.ok(cut, 'the first attempt was cut');
  assert.ok((await readFile(join(r.dest, NAME))).equals(old), 'the old local file is intact after the cut');
  // The server's file changes in its first leaf, which the client holds from its old file.
  const changed = Buffer.from(next);
  randomBytes(100).copy(changed, 10);
  await writeFile(served, changed);
  const before = r.proxy.totalBytes('serverToClient');
  await getFiles({ ...r.common, remotePaths: [NAME], localDir: r.dest });
  assert.ok((await readFile(join(r.dest, NAME))).equals(changed), 'the file as it is now, byte-exact');
  const resumed = r.proxy.totalBytes('serverToClient') - before;
  assert.ok(resumed > FILE_BYTES, `${resumed} bytes: the claim failed and the whole file came`);
});

test('upload: the client’s source changes while the delta is sent: SOURCE_CHANGED, and the server’s old file is intact', async (t) => {
  const r = await rig(t);
  const { old, next } = versions();
  await writeFile(join(r.root, NAME), old);
  const source = join(r.src, NAME);
  await writeFile(source, next);
  await utimes(source, MTIME_S, MTIME_S);
  let rewritten = false;
  const error = await failure(
    sendFiles({
      ...r.common,
      files: [source],
      chunkBytes: 256 * 1024,
      onEvent: (event) => {
        if (event.type === 'transfer-started' && !rewritten) {
          rewritten = true;
          rewriteKeepingSizeAndMtime(source, FILE_BYTES - 3 * LEAF, MTIME_S);
        }
      },
    }),
  );
  assert.ok(rewritten, 'the source was rewritten during the delta');
  assert.equal(error?.code, 'SOURCE_CHANGED');
  assert.ok((await readFile(join(r.root, NAME))).equals(old), 'the server’s old file is intact');
  // Sent again, the changed source replaces it byte-exact.
  await sendFiles({ ...r.common, files: [source], chunkBytes: 256 * 1024 });
  assert.ok((await readFile(join(r.root, NAME))).equals(await readFile(source)));
});

/**
 * A delta upload of a file of 16 MiB and more (the signature is in leaves, PROTOCOL.md §5.15.2, whose hashes
 * the server keeps for the copies while its old file's identity holds: delta-old-file.ts) during which the
 * server's old file is rewritten in a leaf the client copies, after the whole signature arrived and before
 * any copy; the new file is the old one with 1000 bytes changed early, and `grownBy` bytes appended (a size
 * other than the old one's: the server writes no old leaf in place while signing, so the copies read it).
 */
async function oldRewrittenAfterSigning(
  t: TestContext,
  grownBy: number,
): Promise<{ error: { code: string } | undefined; now: Buffer; next: Buffer }> {
  const r = await rig(t);
  const size = 16 * 1024 * 1024 + 4321;
  const old = randomBytes(size);
  const next = Buffer.concat([old, randomBytes(grownBy)]);
  randomBytes(1000).copy(next, 3 * LEAF + 10);
  const held = join(r.root, NAME);
  await writeFile(held, old);
  await utimes(held, MTIME_S, MTIME_S);
  const source = join(r.src, NAME);
  await writeFile(source, next);
  let rewritten = false;
  const error = await failure(
    sendFiles({
      ...r.common,
      files: [source],
      chunkBytes: 256 * 1024,
      onEvent: (event) => {
        // After the whole signature arrived, before any copy: a leaf the client copies, in a later chunk.
        if (event.type === 'transfer-started' && !rewritten) {
          rewritten = true;
          rewriteKeepingSizeAndMtime(held, 100 * LEAF, MTIME_S);
        }
      },
    }),
  );
  assert.ok(rewritten, 'the old file was rewritten during the delta');
  return { error, now: await readFile(held), next };
}

test('upload: the server’s old file changes after it was signed: the copies are hashed as written, never a wrong file', async (t) => {
  // A new file of another size: the copies read the old file as it is now. A rewrite keeping size and mtime
  // moves the ctime alone: the signing's hashes must then not be trusted, or the rewritten bytes would pass
  // as the client's.
  // The server serves copies while it still signs (§5.15.2), so the rewrite at 'transfer-started' may come
  // before the signing reads leaf 100: the signature then holds the rewritten leaf, the client sends that
  // leaf as data, and the new file is right. Either outcome must be exactly right; the case under test (the
  // rewrite after the signing) came in 9 of 10 runs, so up to 5 attempts must meet it at least once.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const { error, now, next } = await oldRewrittenAfterSigning(t, 100);
    if (error === undefined) {
      assert.ok(now.equals(next), 'a delta that succeeded left exactly the new file');
      continue;
    }
    assert.equal(error.code, 'CHUNK_MISMATCH', 'the chunk built from the rewritten bytes is refused');
    assert.ok(!now.equals(next), 'nothing replaced the old file');
    assert.equal(
      now.subarray(100 * LEAF, 100 * LEAF + 100).toString(),
      'X'.repeat(100),
      'the old file as rewritten',
    );
    return;
  }
  assert.fail('in 5 attempts the old file was never rewritten after its signing');
});
