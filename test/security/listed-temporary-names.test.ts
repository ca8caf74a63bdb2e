// A tree on a server may hold entries named as the client's own temporaries beside a destination:
// `.big.ferry-part` and `.big.ferry-state` beside `big` (a folder synced up while a download into it was cut,
// or another uploader's choice), a batch's `.ferry-batch-<16 hex>-<index>`, a link's `.NAME.<hex>.ferry-link`.
// Received into one directory, each took the other's place, as the race fell: the listed pair placed first,
// `big`'s download took `.big.ferry-part` for its own partial and removed it, and removed `.big.ferry-state`
// as its state file once `big` was placed ("received 3 files", exit 0, two of them gone: 64 MiB `big`);
// `big`'s partial made first, the listed pair was refused as a file in the way ("2 of 7 files failed", exit
// 8: 1 MiB `big`, this test before). A batch's sweep takes a `.ferry-batch-` name an hour after it is placed.
// `sync` fetched them again on every run, its walk of DST never seeing them. Now both leave such names out of
// the listing, each said once. Real `ferry serve` and CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rigFerry, startAdmittedServeInTempDir } from '../helpers/admitted-cli.js';
import { mountLowerCaseFs } from '../helpers/lower-case-fs.js';
import { randomBytes } from 'node:crypto';
import { FERRY_TEMPORARY_NAMES, skippedTemporaryNames } from '../helpers/ferry-temporary-names.js';

const TEMPORARY_NAMES = FERRY_TEMPORARY_NAMES;
const skippedNames = skippedTemporaryNames;

test('get -r and sync down leave out listed names of the client temporaries, and say so', async (t) => {
  // Over a batch's 60 KiB, so `big` arrives through a partial beside it.
  const big = randomBytes(1 << 20);
  const rig = await startAdmittedServeInTempDir('ferry-listed-temporary-names-', async (root) => {
    await mkdir(join(root, 't'));
    await writeFile(join(root, 't', 'big'), big);
    await writeFile(join(root, 't', 'small'), 'an ordinary small file\n');
    for (const name of TEMPORARY_NAMES) await writeFile(join(root, 't', name), `the tree's own ${name}\n`);
  });
  t.after(() => rig.close());

  const got = await rigFerry(rig, 'get', '-r', `${rig.server.address}/t`, join(rig.dir, 'got'));
  assert.equal(got.code, 0, got.stderr);
  // Before: "received 7 files", and .big.ferry-part and .big.ferry-state were not there.
  assert.match(got.stderr, /^received 2 files/m);
  assert.deepEqual(skippedNames(got.stderr), [...TEMPORARY_NAMES].sort());
  assert.deepEqual((await readdir(join(rig.dir, 'got'))).sort(), ['big', 'small']);
  assert.ok((await readFile(join(rig.dir, 'got', 'big'))).equals(big));

  const dst = join(rig.dir, 'synced');
  await mkdir(dst);
  for (const run of ['first', 'second']) {
    const synced = await rigFerry(rig, 'sync', `${rig.server.address}/t`, dst);
    assert.equal(synced.code, 0, synced.stderr);
    // Before: the second run received the two the first one lost, as new, and every run after it again.
    assert.match(synced.stderr, run === 'first' ? /received 2 files \(2 new/ : /received 0 files/);
    assert.deepEqual(skippedNames(synced.stderr), [...TEMPORARY_NAMES].sort(), run);
    assert.deepEqual((await readdir(dst)).sort(), ['big', 'small'], run);
  }
});

test('on a case-insensitive destination, such names in other letters are left out too', async (t) => {
  const mount = await mountLowerCaseFs(t);
  const big = randomBytes(1 << 20);
  const names = ['.BIG.FERRY-PART', '.Big.Ferry-State'];
  const rig = await startAdmittedServeInTempDir('ferry-listed-temporary-names-', async (root) => {
    await mkdir(join(root, 't'));
    await writeFile(join(root, 't', 'big'), big);
    for (const name of names) await writeFile(join(root, 't', name), `the tree's own ${name}\n`);
  });
  t.after(() => rig.close());
  const got = await rigFerry(rig, 'get', '-r', `${rig.server.address}/t`, join(mount, 'got'));
  // Before: `big`'s partial and state there are `.big.ferry-part` and `.big.ferry-state`, as above.
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stderr, /^received 1 file/m);
  assert.deepEqual(skippedNames(got.stderr), [...names].sort());
  assert.deepEqual(await readdir(join(mount, 'got')), ['big']);
  assert.ok((await readFile(join(mount, 'got', 'big'))).equals(big));
});

test('get of files named as the client temporaries fails them, and receives the rest', async (t) => {
  const big = randomBytes(1 << 20);
  const rig = await startAdmittedServeInTempDir('ferry-listed-temporary-names-', async (root) => {
    await writeFile(join(root, 'big'), big);
    for (const name of ['.big.ferry-part', '.big.ferry-state'])
      await writeFile(join(root, name), `the tree's own ${name}\n`);
  });
  t.after(() => rig.close());
  const dst = join(rig.dir, 'got');
  await mkdir(dst);
  const at = (path: string): string => `${rig.server.address}/${path}`;
  const got = await rigFerry(rig, 'get', at('.big.ferry-part'), at('.big.ferry-state'), at('big'), dst);
  // Before: exit 0, "received 3 files" with a digest for each, and only `big` there (64 MiB), or the two
  // failed as files in the way.
  assert.equal(got.code, 7, got.stderr);
  assert.match(got.stderr, /^received 1 file, .* 2 failed/m);
  for (const name of ['.big.ferry-part', '.big.ferry-state'])
    assert.match(
      got.stderr,
      new RegExp(`^not received: \\S+/${name.replaceAll('.', '\\.')} PATH_INVALID$`, 'm'),
    );
  assert.match(got.stderr, /its name is one ferry gives its own temporaries/);
  assert.deepEqual(await readdir(dst), ['big']);
  assert.ok((await readFile(join(dst, 'big'))).equals(big));
});
