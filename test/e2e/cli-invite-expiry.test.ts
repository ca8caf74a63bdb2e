// End to end: `ferry invite` says how long its code works, then when, in UTC without milliseconds. It printed
// `expires: 2026-12-06T05:29:48.589Z`, leaving the operator reading it to the client to work out the offset.
// `--json` and `ferry invites` keep the exact ISO time, for scripts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;

before(async () => {
  dir = await makeTempDir('ferry-cli-invite-expiry-');
});

after(() => removeTempDir(dir));

test('ferry invite --ttl 10m: "expires: in 10m00s, at YYYY-MM-DD HH:MM:SS UTC (one use)"', async () => {
  const home = join(dir, 'server-home');
  assertExit(await runFerry(['--home', home, 'keygen']), 0, 'keygen');
  const before = Date.now();
  const result = await runFerry(['--home', home, 'invite', '--ttl', '10m', '--address', '127.0.0.1:7443']);
  assertExit(result, 0, 'invite');
  const line = /^expires: +in (\d+)m(\d\d)s, at (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC \(one use\)$/m.exec(
    result.stdout,
  );
  assert.ok(line, result.stdout);
  const seconds = Number(line[1]) * 60 + Number(line[2]);
  assert.ok(seconds > 9 * 60 && seconds <= 10 * 60, `${seconds} s`);
  const at = Date.parse(`${line[3]}T${line[4]}Z`);
  assert.ok(Math.abs(at - (before + 10 * 60_000)) < 60_000, `expires at ${line[3]} ${line[4]}`);
});

test('ferry invite --ttl 10 (no unit) is a usage error alone, before any note about the home', async () => {
  const home = join(dir, 'fresh-home');
  assertExit(await runFerry(['--home', home, 'keygen']), 0, 'keygen');
  const result = await runFerry(['--home', home, 'invite', '--ttl', '10']);
  assertExit(result, 2, 'invite --ttl 10');
  assert.equal(
    result.stderr,
    'ferry: USAGE_INVALID: invalid usage: --ttl takes a duration like 500ms, 30s, 10m, 24h or 7d, got "10"\n',
  );
});
