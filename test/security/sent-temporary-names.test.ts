// `send -r` and `sync` up sent the user's own live temporaries as ordinary files: a download's
// `.big.ferry-part` and `.big.ferry-state` beside it, a link or a batch being placed, all of them names every
// receiver now leaves out (listed-temporary-names), so they were sent for nothing, and most often half
// written. Now the walk of the tree leaves them out (and all below a directory so named), each said once, as
// rsync never sends its own partial-dir. Real `ferry serve` and CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rigFerry, startAdmittedServeInTempDir } from '../helpers/admitted-cli.js';
import { FERRY_TEMPORARY_NAMES, skippedTemporaryNames } from '../helpers/ferry-temporary-names.js';
import { listTree } from '../helpers/temp-dir.js';

/** A directory named as a partial: left out whole, said once, nothing below it read. */
const TEMPORARY_DIR = '.d.ferry-part';

test('send -r and sync up leave out names of ferry temporaries, and say so once each', async (t) => {
  const rig = await startAdmittedServeInTempDir('ferry-sent-temporary-names-', () => Promise.resolve());
  t.after(() => rig.close());
  const tree = join(rig.dir, 't');
  await mkdir(join(tree, TEMPORARY_DIR), { recursive: true });
  await writeFile(join(tree, TEMPORARY_DIR, 'inner'), 'below a temporary name\n');
  await writeFile(join(tree, 'small'), 'an ordinary small file\n');
  for (const name of FERRY_TEMPORARY_NAMES) await writeFile(join(tree, name), `half of big: ${name}\n`);
  const said = [...FERRY_TEMPORARY_NAMES, TEMPORARY_DIR].sort();

  const sent = await rigFerry(rig, 'send', '-r', tree, `${rig.server.address}/up`);
  assert.equal(sent.code, 0, sent.stderr);
  // Before: "sent 7 files", every temporary stored on the server.
  assert.match(sent.stderr, /^sent 1 file/m);
  assert.deepEqual(skippedTemporaryNames(sent.stderr), said);
  assert.deepEqual(await listTree(join(rig.root, 'up')), ['small']);

  for (const run of ['first', 'second']) {
    const synced = await rigFerry(rig, 'sync', '--delete', tree, `${rig.server.address}/synced`);
    assert.equal(synced.code, 0, synced.stderr);
    assert.match(synced.stderr, run === 'first' ? /sync: sent 1 file \(1 new/ : /sync: sent 0 files/, run);
    assert.deepEqual(skippedTemporaryNames(synced.stderr), said, run);
    assert.deepEqual(await readdir(join(rig.root, 'synced')), ['small'], run);
  }
  // A copy an earlier client sent is an entry SRC does not send: --delete removes it, as any other.
  await writeFile(join(rig.root, 'synced', '.big.ferry-part'), 'sent by an earlier client\n');
  const cleaned = await rigFerry(rig, 'sync', '--delete', tree, `${rig.server.address}/synced`);
  assert.equal(cleaned.code, 0, cleaned.stderr);
  assert.match(cleaned.stderr, /deleted 1/);
  assert.deepEqual(await readdir(join(rig.root, 'synced')), ['small']);
});
