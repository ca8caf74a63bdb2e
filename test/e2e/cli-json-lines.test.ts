// End to end: the `--json` lines of `send -r`, `get -r` and `sync` (up, down, dry run) are one format
// (README.md "JSON events"): every line starts with `v`, `type`, `time` in that order, so a line-oriented
// consumer (`grep '^{"v":1,"type":"sync-action"'`) sees sync's own lines as it sees the transfer's; and a
// local entry left out of a tree says what kind of skip it is (`kind`), as the library's `onSkip` does,
// so a program need not parse the reason's words.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonLinesOf, runFerry, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const BAD_NAME = 'bad\x1bname.txt';

type Line = Record<string, unknown>;

/** Every stdout line parsed, each checked to lead with `v`, `type`, `time`. */
function linesOf(result: CliResult, what: string): Line[] {
  const lines = result.stdout
    .trimEnd()
    .split('\n')
    .map((text) => JSON.parse(text) as Line);
  for (const line of lines)
    assert.deepEqual(
      Object.keys(line).slice(0, 3),
      ['v', 'type', 'time'],
      `${what}: a line that does not lead with v, type, time: ${JSON.stringify(line)}`,
    );
  return lines;
}

/** The `entry-skipped` lines as `path kind`. */
function skips(lines: Line[]): string[] {
  return lines
    .filter((line) => line['type'] === 'entry-skipped')
    .map((line) => `${String(line['path'])} ${String(line['kind'])}`)
    .sort();
}

describe('--json lines of send, get and sync share one shape, and skips carry their kind', () => {
  let dir: string;
  let clientHome: string;
  let server: ServeProcess;
  let serverId: string;
  let serverHome: string;

  function ferry(...args: string[]): Promise<CliResult> {
    return runFerry(['--home', clientHome, ...args, '--expect', serverId, '--retries', '0', '--json'], {
      cwd: dir,
    });
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-json-lines-');
    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'sub'), { recursive: true });
    await writeFile(join(tree, 'ok.txt'), 'ok');
    await writeFile(join(tree, 'sub', 'deep.txt'), 'deep');
    await writeFile(join(tree, BAD_NAME), 'bad');
    await symlink('/etc/passwd', join(tree, 'out'));
    ({ clientHome, serverId, server, serverHome } = await startAdmittedServe(dir, join(dir, 'root'), [
      '--log-level',
      'warn',
    ]));
  });

  after(async () => {
    await server.stop();
    await removeTempDir(dir);
  });

  test('send -r, sync -n, sync up, then sync down and get -r: every line leads with v, type, time', async () => {
    const expectedSkips = [`tree/${BAD_NAME} unsendable-name`, 'tree/out link-outside-tree'];
    const sent = await ferry('send', '-r', 'tree', `${server.address}/sent`, '--mkdir');
    assert.deepEqual(skips(linesOf(sent, 'send -r')), expectedSkips);
    const dry = await ferry('sync', '-n', 'tree', `${server.address}/mirror`);
    const dryLines = linesOf(dry, 'sync -n');
    assert.deepEqual(skips(dryLines), expectedSkips);
    assert.ok(dryLines.some((line) => line['type'] === 'sync-action'));
    const synced = await ferry('sync', 'tree', `${server.address}/mirror`);
    const syncLines = linesOf(synced, 'sync');
    assert.deepEqual(skips(syncLines), expectedSkips);
    assert.deepEqual(
      [syncLines.at(-2)?.['type'], syncLines.at(-1)?.['type']],
      ['summary', 'sync-summary'],
      'sync ends with the transfer summary, then its own',
    );
    const down = await ferry('sync', `${server.address}/mirror`, 'down');
    assert.equal(down.code, 0, down.stderr);
    assert.ok(linesOf(down, 'sync down').some((line) => line['type'] === 'sync-action'));
    const got = await ferry('get', '-r', `${server.address}/mirror`, 'got');
    assert.equal(got.code, 0, got.stderr);
    assert.equal(linesOf(got, 'get -r').at(-1)?.['type'], 'summary');
  });

  test('ls, clients, invites and invite --json are JSON lines led by v too, one per entry (no arrays)', async () => {
    const home = ['--home', serverHome];
    assert.equal(
      (await ferry('send', join('tree', 'ok.txt'), `${server.address}/listed/`, '--mkdir')).code,
      0,
    );
    const ls = await ferry('ls', `${server.address}/listed`);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(
      jsonLinesOf<{ path: string }>(ls.stdout).map((entry) => entry.path),
      ['ok.txt'],
    );
    const clients = await runFerry([...home, 'clients', '--json']);
    assert.deepEqual(jsonLinesOf<{ id: string }>(clients.stdout).length, 1, clients.stdout);
    const invites: string[] = [];
    for (const name of ['a', 'b']) {
      const invite = await runFerry([...home, 'invite', '--json', '--name', name]);
      assert.equal(invite.code, 0, invite.stderr);
      const [made, ...more] = jsonLinesOf<{ id: string; code: string; expires: string }>(invite.stdout);
      assert.deepEqual(more, [], invite.stdout);
      invites.push(made!.id);
    }
    const listed = await runFerry([...home, 'invites', '--json']);
    assert.deepEqual(
      jsonLinesOf<{ id: string }>(listed.stdout).map((invite) => invite.id),
      invites,
      listed.stdout,
    );
    const revoked = await runFerry([...home, 'invite', '--revoke', invites[0]!, '--json']);
    assert.deepEqual(jsonLinesOf(revoked.stdout), [{ v: 1, revoked: invites[0] }]);
  });
});
