// End to end: a `send` or `get` of one file that fails says so once, in its error line, as scp does
// (`scp: nope.txt: No such file or directory`). It said it four times: "failed: a -> a FILE_EXISTS: ...",
// "sent 0 files, 0 B in 10 ms, 1 failed", "not sent: a FILE_EXISTS", then the error line. Several files
// keep their per-file lines and closing summary (cli-partial-failure.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';

let rig: ServeBehindProxy | undefined;

before(async () => {
  rig = await startServeBehindProxy('ferry-cli-one-file-failure-');
  await writeFile(join(rig.root, 'there.txt'), 'the server has this\n');
});

after(() => rig?.close());

async function ferry(...args: string[]): Promise<CliResult> {
  const { clientHome, serverId } = rig!;
  return runFerry(['--home', clientHome, ...args, '--expect', serverId]);
}

function onlyLine(result: CliResult): string {
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, not:\n${result.stderr}`);
  return lines[0]!;
}

test('send of one file onto a different one: the one error line, exit 8', async () => {
  const mine = join(rig!.dir, 'mine.txt');
  await writeFile(mine, 'another content\n');
  const result = await ferry('send', mine, `${rig!.proxy.addressText}/there.txt`);
  assertExit(result, 8, 'send onto a different file');
  // ferry's advice after the server's words, not inside the table's text before them.
  assert.match(
    onlyLine(result),
    /^ferry: FILE_EXISTS: destination exists: 127\.0\.0\.1:\d+\/there\.txt \(from the server\); use --overwrite to replace it$/,
  );
});

test('get of a missing file: the one error line naming it, exit 7; --json still has the failed event', async () => {
  const remote = `${rig!.proxy.addressText}/nope.txt`;
  const result = await ferry('get', remote, rig!.dir);
  assertExit(result, 7, 'get of a missing file');
  assert.match(onlyLine(result), /^ferry: PATH_NOT_FOUND: .*nope\.txt/);
  const json = await ferry('get', '--json', remote, rig!.dir);
  assertExit(json, 7, 'get --json of a missing file');
  const types = json.stdout
    .trimEnd()
    .split('\n')
    .map((line) => (JSON.parse(line) as { type: string }).type);
  assert.ok(types.includes('transfer-failed'), json.stdout);
  assert.equal(types.at(-1), 'summary');
});

test('get of two files, one missing: the per-file lines and the summary stay', async () => {
  const result = await ferry(
    'get',
    `${rig!.proxy.addressText}/there.txt`,
    `${rig!.proxy.addressText}/nope.txt`,
    join(rig!.dir, 'both'),
    '--mkdir',
  );
  assertExit(result, 7, 'get of two files, one missing');
  assert.match(result.stderr, /^failed: nope\.txt -> .* PATH_NOT_FOUND: /m);
  assert.match(result.stderr, /^received 1 file, .*, 1 failed/m);
  assert.match(result.stderr, /^not received: .*nope\.txt PATH_NOT_FOUND$/m);
});
