// End to end: `ferry sync` closes with one line, its own, as rsync closes with its "sent ... bytes/sec". It
// printed the transfer summary of `send`/`get` above it, which counted otherwise: "received 0 of 1 file,
// 20.0 MiB in 87 ms, 1 already identical, left as they were" over "sync: received 1 file (0 new, 1
// changed)", and "sent 0 files, 0 B in 6 ms" over every unchanged re-sync. The time moved into the sync line.
// What a delta saved is said when a file went as one, with how many: "the delta saved 0 B" on every sync of
// new files or of nothing read as a delta that failed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';

let rig: ServeBehindProxy | undefined;
let src: string;

before(async () => {
  rig = await startServeBehindProxy('ferry-cli-sync-closing-line-');
  src = join(rig.dir, 'src');
  await mkdir(src);
  await writeFile(join(src, 'a.txt'), 'alpha\n');
  await writeFile(join(src, 'b.txt'), 'beta\n');
});

after(() => rig?.close());

async function syncUp(): Promise<CliResult> {
  const { clientHome, serverId, proxy } = rig!;
  const result = await runFerry([
    ...['--home', clientHome, 'sync', src, `${proxy.addressText}/mirror`, '--expect', serverId],
    ...['--chunk-size', '64k'],
  ]);
  assertExit(result, 0, 'sync up');
  return result;
}

test('sync closes with its own line alone, with the time (no speed for 11 B: too few to mean one)', async () => {
  const first = await syncUp();
  assert.match(
    first.stderr,
    /^sync: sent 2 files \(2 new, 0 changed\), skipped 0 unchanged, deleted 0; file data on the wire 11 B; [\d.]+ m?s\n$/,
  );
  const again = await syncUp();
  assert.match(
    again.stderr,
    /^sync: sent 0 files \(0 new, 0 changed\), skipped 2 unchanged, deleted 0; file data on the wire 0 B; [\d.]+ m?s\n$/,
  );
});

test("sync's closing line says what the delta saved when a file went as one, and of how many files", async () => {
  // 256 KiB with one KiB rewritten: large enough to go alone (not in a batch), as a delta.
  const content = randomBytes(256 * 1024);
  await writeFile(join(src, 'big.bin'), content);
  // 256 KiB crossed, enough for a speed (MIN_RATE_BYTES).
  assert.match(
    (await syncUp()).stderr,
    /file data on the wire 256 KiB; [\d.]+ m?s, avg [\d.]+ [KMG]iB\/s\n$/,
  );
  content.fill(7, 100 * 1024, 101 * 1024);
  await writeFile(join(src, 'big.bin'), content);
  const changed = await syncUp();
  assert.match(
    changed.stderr,
    /^sync: sent 1 file \(0 new, 1 changed\), skipped 2 unchanged, deleted 0; file data on the wire [\d.]+ KiB, the delta of 1 file saved 2\d\d KiB; [\d.]+ m?s\n$/,
  );
});
