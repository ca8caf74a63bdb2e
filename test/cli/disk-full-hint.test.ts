// A download out of space on this machine names the partial it left beside the file, the space it takes, and
// the next step (src/cli/disk-full-hint.ts, README "Exit codes"); only when that partial is there. The e2e
// test of a full disk (cli-local-fs-errors) now meets the refusal at the offer, before any partial exists
// (docs/SECURITY.md "An offer beyond what the client can take"), so the hint is checked here, on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../../src/errors/index.js';
import { withDiskFullHint } from '../../src/cli/disk-full-hint.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

test('DISK_FULL names the partial beside the file, its size and what to do, only when it is there', async (t) => {
  const dir = await makeTempDir('ferry-disk-full-hint-');
  t.after(() => removeTempDir(dir));
  const file = join(dir, 'a.iso');
  const full = new FerryError('DISK_FULL', file, { subject: file });
  assert.equal(await withDiskFullHint(full), full, 'no partial: the error as it was');
  await writeFile(join(dir, '.a.iso.ferry-part'), randomBytes(256 * 1024));
  const hinted = await withDiskFullHint(full);
  assert.ok(hinted instanceof FerryError && hinted.code === 'DISK_FULL');
  assert.equal(hinted.detail, file, 'the next step is the hint, not part of the detail');
  assert.match(
    hinted.hint ?? '',
    /\.a\.iso\.ferry-part beside it keeps what was verified \([\d.]+ [KM]iB of the disk\): rerun the same command once there is room, to resume, or delete it and \.a\.iso\.ferry-state to free the space/,
  );
  const remote = new FerryError('DISK_FULL', 'the server is full', { remote: true });
  assert.equal(await withDiskFullHint(remote), remote, "a server's DISK_FULL says its own next step");
});
