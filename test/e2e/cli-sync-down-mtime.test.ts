// End to end: `ferry sync HOST/SRC DST` onto a local file whose content is SRC's but whose mtime is not (a
// `touch`, a copy without -p). The quick check sees it changed; the download finds it identical. rsync -a
// then gives it SRC's mtime, so the next run skips it; a sync that left the mtime as it was re-read the
// file on every run and reported it "changed" for ever.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';

let rig: ServeBehindProxy | undefined;
let back: string;

before(async () => {
  rig = await startServeBehindProxy('ferry-cli-sync-down-mtime-');
  back = join(rig.dir, 'back');
  await mkdir(join(rig.root, 'mirror'));
  // A small file (it comes in a batch) and one of 200 KiB (it comes as a delta of blocks).
  await writeFile(join(rig.root, 'mirror', 'small.txt'), 'small file\n');
  await writeFile(join(rig.root, 'mirror', 'blocks.bin'), randomBytes(200 * 1024));
  await chmod(join(rig.root, 'mirror', 'blocks.bin'), 0o640);
});

after(() => rig?.close());

async function syncDown(...args: string[]): Promise<CliResult> {
  const { clientHome, serverId, proxy } = rig!;
  return runFerry([
    '--home',
    clientHome,
    'sync',
    `${proxy.addressText}/mirror`,
    back,
    '--expect',
    serverId,
    ...args,
  ]);
}

/** The `sync-action` lines of a `--json` run whose action is `send`, by path. */
function sent(result: CliResult): string[] {
  return result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { type: string; action?: string; path?: string })
    .filter((event) => event.type === 'sync-action' && event.action === 'send')
    .map((event) => event.path!)
    .sort();
}

test("sync down gives a local file identical to SRC but of another mtime (and mode) SRC's, so the next run skips it", async () => {
  assertExit(await syncDown(), 0, 'first sync down');
  const old = new Date('2020-01-01T00:00:00Z');
  for (const name of ['small.txt', 'blocks.bin']) await utimes(join(back, name), old, old);
  await chmod(join(back, 'blocks.bin'), 0o600);

  const touched = await syncDown('--json');
  assertExit(touched, 0, 'sync down over the touched files');
  assert.deepEqual(sent(touched), ['blocks.bin', 'small.txt'], 'the quick check sees both changed');
  for (const name of ['small.txt', 'blocks.bin']) {
    const local = await stat(join(back, name));
    const remote = await stat(join(rig!.root, 'mirror', name));
    assert.equal(Math.trunc(local.mtimeMs), Math.trunc(remote.mtimeMs), `${name} has SRC's mtime`);
  }
  assert.equal((await stat(join(back, 'blocks.bin'))).mode & 0o777, 0o640, "blocks.bin has SRC's mode");
  const saved = touched.stdout
    .split('\n')
    .filter((line) => line.includes('"sync-summary"'))
    .map((line) => JSON.parse(line) as { dataBytes: number; savedBytes: number; deltaFiles: number });
  // The larger file's data did not cross (the small one came in a batch, whole): the delta saved it, as it
  // says of an upload found identical.
  assert.equal(saved.length, 1);
  assert.ok(saved[0]!.dataBytes <= 'small file\n'.length, `data on the wire: ${saved[0]!.dataBytes}`);
  assert.equal(saved[0]!.savedBytes, 200 * 1024 + 'small file\n'.length - saved[0]!.dataBytes);
  assert.equal(saved[0]!.deltaFiles, 1, 'the larger file, not the batched one');

  const again = await syncDown('--json');
  assertExit(again, 0, 'sync down once more');
  assert.deepEqual(sent(again), [], 'nothing is sent again');
  const summary = again.stdout
    .split('\n')
    .filter((line) => line.includes('"sync-summary"'))
    .map((line) => JSON.parse(line) as { filesSkipped: number; filesSent: number });
  assert.deepEqual(
    summary.map((s) => [s.filesSent, s.filesSkipped]),
    [[0, 2]],
  );
});
