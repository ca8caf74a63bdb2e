// What `send` and `get` print, as a script or a pipe sees it: `--json` lines on stdout (one schema, v:1),
// plain lines without escape codes when stderr is not a terminal (even with FORCE_COLOR set), nothing with
// --quiet. The terminal bars themselves are covered by test/cli/progress-display.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

// eslint-disable-next-line no-control-regex -- looking for escape codes is the point
const ESCAPE = /\x1b/;

/** Parses `--json` output: every line one object of schema v1. */
function jsonLines(stdout: string): Array<Record<string, unknown>> {
  assert.ok(stdout.endsWith('\n'), 'every line ends with a newline');
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => {
      const event = JSON.parse(line) as Record<string, unknown>;
      assert.equal(event['v'], 1, `schema version on ${line}`);
      assert.equal(typeof event['type'], 'string');
      assert.equal(typeof event['time'], 'number');
      return event;
    });
}

describe('ferry send/get output for scripts and pipes', () => {
  let dir: string;
  let clientHome: string;
  let server: ServeProcess | undefined;
  let address: string;
  let file: string;
  let common: string[];

  before(async () => {
    dir = await makeTempDir('ferry-output-');
    clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    const keygen = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(keygen, 0, 'keygen');
    assertExit(await runFerry(['--home', serverHome, 'keygen']), 0, 'server keygen');
    assertExit(await runFerry(['--home', serverHome, 'allow', keygen.stdout.trim()]), 0, 'allow');
    server = await startServe(['--home', serverHome, '--root', join(dir, 'root'), '--durable-batch', '64k']);
    address = server.address;
    common = ['--home', clientHome, '--expect', server.id];
    file = join(dir, 'report.bin');
    await writeRandomFile(file, 300_000);
  });

  after(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test('send --json prints only JSON events on stdout, ending in a summary, with the digest `ferry digest` prints', async () => {
    const result = await runFerry(['send', file, `${address}/json/`, '--mkdir', '--json', ...common]);
    assertExit(result, 0, 'send --json');
    assert.equal(result.stderr, '', 'nothing on stderr');
    const events = jsonLines(result.stdout);
    const types = events.map((e) => e['type']);
    // Where the file lands is asked of the server first (scp's rule), so `planned` follows `session-opened`.
    assert.deepEqual(types.slice(0, 2), ['session-opened', 'planned']);
    assert.deepEqual([events[1]!['files'], events[1]!['bytes']], [1, 300_000]);
    assert.equal(events[0]!['server'], server!.id);
    assert.ok(types.includes('transfer-started') && types.includes('progress'), types.join(' '));
    const finished = events.find((e) => e['type'] === 'transfer-finished')!;
    assert.equal(finished['direction'], 'upload');
    assert.equal(finished['remotePath'], 'json/report.bin');
    assert.equal(finished['size'], 300_000);
    const digest = (await runFerry(['digest', file])).stdout.split(' ')[0];
    assert.equal(finished['digest'], digest);
    const summary = events[events.length - 1]!;
    assert.equal(summary['type'], 'summary');
    assert.equal(summary['ok'], true);
    assert.equal(summary['files'], 1);
    assert.equal(summary['bytes'], 300_000);
    const progress = events.filter((e) => e['type'] === 'progress').map((e) => e['verifiedBytes'] as number);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'verified bytes never go back',
    );
  });

  test('get --json reports the download the same way, with direction "download"', async () => {
    const local = join(dir, 'downloads');
    await mkdir(local);
    const result = await runFerry(['get', `${address}/json/report.bin`, local, '--json', ...common]);
    assertExit(result, 0, 'get --json');
    const events = jsonLines(result.stdout);
    const finished = events.find((e) => e['type'] === 'transfer-finished')!;
    assert.equal(finished['direction'], 'download');
    assert.equal(finished['file'], join(local, 'report.bin'));
    assert.equal(events[events.length - 1]!['ok'], true);
  });

  test('a failed send --json ends with transfer-failed and an ok:false summary carrying the code', async () => {
    const other = join(dir, 'other');
    await mkdir(other);
    await writeFile(join(other, 'report.bin'), 'not the same content');
    const result = await runFerry([
      'send',
      join(other, 'report.bin'),
      `${address}/json`,
      '--json',
      ...common,
    ]);
    assertExit(result, 8, 'send over a different existing file');
    const events = jsonLines(result.stdout);
    const failed = events.find((e) => e['type'] === 'transfer-failed')!;
    assert.equal(failed['code'], 'FILE_EXISTS');
    assert.deepEqual(
      { type: events.at(-1)!['type'], ok: events.at(-1)!['ok'], code: events.at(-1)!['code'] },
      { type: 'summary', ok: false, code: 'FILE_EXISTS' },
    );
    assert.match(result.stderr, /^ferry: FILE_EXISTS: /, 'the error line still goes to stderr');
  });

  test('without a terminal, send prints plain lines and no escape codes, even with FORCE_COLOR', async () => {
    const result = await runFerry(['send', file, `${address}/plain/`, '--mkdir', ...common], {
      env: { FORCE_COLOR: '1', CI: 'true' },
    });
    assertExit(result, 0, 'send');
    assert.equal(result.stdout, '', 'stdout stays empty for data');
    assert.doesNotMatch(result.stderr, ESCAPE);
    const lines = result.stderr.trimEnd().split('\n');
    assert.match(lines[0]!, /report\.bin -> plain\/report\.bin \(293 KiB, sent\) digest [0-9a-f]{16}$/);
    assert.match(lines[1]!, /^sent 1 file, 293 KiB in .*, digest [0-9a-f]{16}$/);
  });

  test('a send of a file already there identical says nothing was to send, with no speed', async () => {
    const send = (): Promise<CliResult> => runFerry(['send', file, `${address}/same/`, '--mkdir', ...common]);
    assertExit(await send(), 0, 'first send');
    const again = await send();
    assertExit(again, 0, 'the same send again');
    // It said "sent 0 of 1 file, 293 KiB in 16 ms, avg 17.9 MiB/s, 1 already identical, ...": a speed of
    // bytes no file needed (they go out with a small file's offer, PROTOCOL.md §5.8, and are dropped).
    assert.match(
      again.stderr.trimEnd().split('\n').at(-1)!,
      /^nothing to send: 1 file already identical, 293 KiB checked in [\d.]+ m?s, digest [0-9a-f]{16}$/,
      again.stderr,
    );
    assert.doesNotMatch(again.stderr, /\/s\b|sent 0/, again.stderr);
  });

  test('--quiet prints nothing at all on success', async () => {
    const result = await runFerry(['send', file, `${address}/quiet/`, '--mkdir', '--quiet', ...common]);
    assertExit(result, 0, 'send --quiet');
    assert.equal(result.stdout + result.stderr, '');
  });
});
