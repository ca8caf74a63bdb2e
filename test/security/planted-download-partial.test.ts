// A download's partial planted by another local user (stop 30). A client keeps an interrupted download as
// `.NAME.ferry-part` and `.NAME.ferry-state` beside the destination, and a rerun resumes it: the chunks its
// log lists count as verified, without a byte read again when the log ends with a closing record of the
// data file's identity (PROTOCOL.md §9.2). Neither file is keyed, so anyone who can write into the
// destination directory (a group-writable shared folder) can plant the pair: take a partial of the same file
// (their own cut download of it), rewrite its bytes, seal the log again with the new identity, and leave both
// files open to the victim. The victim's `get` then resumed it: the attacker's bytes ended in the final file,
// reported verified, and the file stayed the attacker's (who may write it again at any time). A partial is
// reused now only when both files are the user's own (or root's) and no one else may write them, as OpenSSH
// asks of `authorized_keys` (StrictModes); any other is in the way (STATE_FILE_IN_THE_WAY) and untouched.
// Real server, real sockets through the fault proxy (which cuts the first download), real files; the
// attacker is uid 65534, so the test needs root to hand the files over (it is skipped otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, chown, lstat, open, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../../src/errors/index.js';
import { decodeChunkLog, encodeClosingRecord, identityOf } from '../../src/transfer/index.js';
import { cutDownloadRig, type CutDownloadRig } from '../helpers/cut-download-rig.js';
import { sha256File } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024;
const FILE_BYTES = 16 * CHUNK_BYTES + 1000;
/** A closing record: u32 index, 32-byte value, 4-byte check (PROTOCOL.md §9.2). */
const RECORD_BYTES = 40;
/** The other local user (nobody). */
const OTHER_UID = 65534;
const EVIL = Buffer.from('planted by another local user');
const asRoot = process.geteuid?.() === 0;

/**
 * What the attacker does to a partial of the file: rewrites the start of chunk 0 and seals the log again
 * with the data file's new identity, so the chunk still counts as verified without a byte read.
 */
async function rewriteAndReseal(dataPath: string, logPath: string): Promise<void> {
  const handle = await open(dataPath, 'r+');
  await handle.write(EVIL, 0, EVIL.length, 0);
  await handle.close();
  const logSize = (await stat(logPath)).size;
  await truncate(logPath, logSize - RECORD_BYTES);
  const body = decodeChunkLog(await readFile(logPath));
  assert.ok(body && body.entries.some((e) => e.index === 0), 'chunk 0 is logged as verified');
  const digest = createHash('sha256')
    .update(await readFile(logPath))
    .digest();
  const log = await open(logPath, 'a');
  await log.write(encodeClosingRecord(digest, identityOf(await stat(dataPath, { bigint: true }))));
  await log.close();
  const sealed = decodeChunkLog(await readFile(logPath));
  assert.ok(sealed?.closing, 'the forged log ends with a closing record');
}

async function plant(
  r: CutDownloadRig,
  how: { uid: number; mode: number },
): Promise<{ dataPath: string; logPath: string }> {
  await assert.rejects(r.get(0), 'the first download is cut');
  const dataPath = join(r.dest, '.payload.bin.ferry-part');
  const logPath = join(r.dest, '.payload.bin.ferry-state');
  // The attacker's own files (chown and chmod move the ctime: done before the log is sealed).
  for (const path of [dataPath, logPath]) {
    await chown(path, how.uid, how.uid);
    await chmod(path, how.mode);
  }
  await rewriteAndReseal(dataPath, logPath);
  return { dataPath, logPath };
}

async function assertRefusedAndUntouched(r: CutDownloadRig, planted: { dataPath: string; logPath: string }) {
  const before = await Promise.all([planted.dataPath, planted.logPath].map((p) => sha256File(p)));
  const err = await r.get(0).then(
    () => undefined,
    (e: unknown) => e,
  );
  const content = await readFile(join(r.dest, 'payload.bin')).catch(() => undefined);
  assert.ok(
    content === undefined || !content.subarray(0, EVIL.length).equals(EVIL),
    "the attacker's bytes reached the downloaded file",
  );
  assert.ok(err instanceof FerryError, `the download is refused, not resumed: ${String(err)}`);
  assert.equal(err.code, 'STATE_FILE_IN_THE_WAY');
  assert.equal(content, undefined, 'no file placed');
  const after = await Promise.all([planted.dataPath, planted.logPath].map((p) => sha256File(p)));
  assert.deepEqual(after, before, 'the planted files are left as they were');
}

test(
  "a download partial owned by another user is not resumed: its bytes never reach the user's file",
  { skip: !asRoot && 'needs root to give files to another uid' },
  async (t) => {
    const r = await cutDownloadRig(t, FILE_BYTES, CHUNK_BYTES);
    const planted = await plant(r, { uid: OTHER_UID, mode: 0o666 });
    await assertRefusedAndUntouched(r, planted);
  },
);

test(
  "a download partial of the user's own that others may write is not resumed either",
  { skip: !asRoot && 'needs root to give files to another uid' },
  async (t) => {
    const r = await cutDownloadRig(t, FILE_BYTES, CHUNK_BYTES);
    const planted = await plant(r, { uid: process.geteuid!(), mode: 0o662 });
    await assertRefusedAndUntouched(r, planted);
  },
);

test("the user's own partial (0600) still resumes and the download verifies", async (t) => {
  const r = await cutDownloadRig(t, FILE_BYTES, CHUNK_BYTES);
  await assert.rejects(r.get(0), 'the first download is cut');
  const logPath = join(r.dest, '.payload.bin.ferry-state');
  assert.equal((await lstat(logPath)).mode & 0o777, 0o600);
  const result = await r.get(0);
  assert.ok(result.resumedBytes > 0, 'the partial was resumed');
  assert.equal(await sha256File(join(r.dest, 'payload.bin')), r.sourceSha);
});
