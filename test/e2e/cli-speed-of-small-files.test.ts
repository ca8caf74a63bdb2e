// End to end: a speed is shown only when enough bytes moved for it to be the link's. Sending 6 B showed
// "5 B/s" in its bar and "avg 214 B/s" in the summary: the time of a file that fits in one record is round
// trips, the fsync and the digest check, and the number read as a link of 214 B/s. Now the bar shows `-`
// and the summary the time alone below MIN_RATE_BYTES (64 KiB); a larger file keeps its average.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { assertExit, ferryEnv, FERRY_BIN, runFerry } from '../helpers/cli.js';
import { writeRandomFile } from '../helpers/random-file.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';

let rig: ServeBehindProxy | undefined;

before(async () => {
  rig = await startServeBehindProxy('ferry-cli-speed-');
});

after(() => rig?.close());

const sendArgs = (file: string): string[] => {
  const { clientHome, serverId, proxy } = rig!;
  return ['--home', clientHome, 'send', file, `${proxy.addressText}/`, '--expect', serverId];
};

test('a 6-byte send says no speed, in its bars on a terminal or in its summary', async () => {
  const file = join(rig!.dir, 'six.txt');
  await writeFile(file, 'hello\n');
  // On a pty (`script`), so the bars are drawn: every frame is in the output.
  const command = [process.execPath, FERRY_BIN, ...sendArgs(file)].map((a) => `'${a}'`).join(' ');
  const { stdout } = await promisify(execFile)('script', ['-q', '-e', '-c', command, '/dev/null'], {
    env: ferryEnv(),
  });
  assert.match(stdout, /sent 1 file, 6 B in [\d.]+ m?s, digest /, stdout);
  assert.doesNotMatch(stdout, /B\/s/, stdout);
});

test('a send of 1 MiB gives its average speed', async () => {
  const file = join(rig!.dir, 'mib.bin');
  await writeRandomFile(file, 1024 * 1024);
  const result = await runFerry(sendArgs(file));
  assertExit(result, 0, 'send 1 MiB');
  assert.match(result.stderr, /^sent 1 file, 1\.00 MiB in [\d.]+ m?s, avg [\d.]+ [KMG]iB\/s, digest /m);
});
