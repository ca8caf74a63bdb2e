// End to end: without a terminal (a pipe, as in CI) `send` and `get` draw no bars, but a file in flight
// still says it is alive, a plain line at most every `--progress-every` (30 s by default: a CI that kills a
// job silent for 10 minutes no longer kills a long transfer), with no escape codes; `0` turns them off.
// Lines follow the server's verified progress, so the test asks for them every millisecond rather than
// waiting 30 s.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

const MIB = 1024 * 1024;
const PROGRESS_LINE = /^(.+): (\d+(?:\.\d+)? (?:B|KiB|MiB)) of 8\.00 MiB \((\d+)%\), .+\/s$/;

describe('progress without a terminal: a plain line per file in flight at most every --progress-every', () => {
  let dir: string;
  let clientHome: string;
  let server: ServeProcess;
  let serverId: string;

  function ferry(...args: string[]): Promise<CliResult> {
    return runFerry(['--home', clientHome, ...args, '--expect', serverId, '--retries', '0'], { cwd: dir });
  }

  /** The progress lines of stderr, checked: plain, each file's percent never going back. */
  function progressLines(result: CliResult, route: string): number[] {
    assert.equal(result.stderr.includes('\x1b'), false, 'no escape code on a pipe');
    const percents = result.stderr
      .split('\n')
      .map((line) => PROGRESS_LINE.exec(line))
      .filter((match) => match !== null)
      .map((match) => {
        assert.equal(match[1], route);
        return Number(match[3]);
      });
    assert.deepEqual(
      percents,
      [...percents].sort((a, b) => a - b),
      'percents never go back',
    );
    return percents;
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-plain-progress-');
    await writeRandomFile(join(dir, 'big.bin'), 8 * MIB);
    // Verified progress every 64 KiB: many progress events for one 8 MiB file.
    ({ clientHome, serverId, server } = await startAdmittedServe(dir, join(dir, 'root'), [
      '--log-level',
      'warn',
      '--durable-batch',
      '64k',
    ]));
  });

  after(async () => {
    await server.stop();
    await removeTempDir(dir);
  });

  test('send and get print progress lines on a pipe when asked, none by default for a short run or with 0', async () => {
    const sent = await ferry(
      'send',
      'big.bin',
      `${server.address}/`,
      '--chunk-size',
      '64k',
      '--progress-every',
      '1ms',
    );
    assertExit(sent, 0, 'send --progress-every 1ms');
    assert.ok(progressLines(sent, 'big.bin -> big.bin').length > 0, `no progress line:\n${sent.stderr}`);
    const got = await ferry(
      'get',
      `${server.address}/big.bin`,
      'got.bin',
      '--chunk-size',
      '64k',
      '--progress-every',
      '1ms',
    );
    assertExit(got, 0, 'get --progress-every 1ms');
    assert.ok(
      // The local file as typed, as `send` names its source (not its absolute path).
      progressLines(got, 'big.bin -> got.bin').length > 0,
      `no progress line:\n${got.stderr}`,
    );
    // The default, 30 s, is longer than this run; 0 is none at all.
    for (const extra of [[], ['--progress-every', '0']]) {
      const again = await ferry('send', 'big.bin', `${server.address}/again.bin`, ...extra);
      assertExit(again, 0, `send ${extra.join(' ')}`);
      assert.deepEqual(progressLines(again, 'big.bin -> again.bin'), []);
    }
  });
});
