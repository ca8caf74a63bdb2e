// End to end: a local file whose name the wire refuses (a control character in it, PROTOCOL.md §7.1) is
// not left out silently by `send -r` or `sync`: the user is told once per name, escaped (no raw control
// byte reaches the terminal), the summary counts it as not sent, and the exit code says not everything
// was sent (PATH_INVALID, exit 7; rsync says it with 23, "partial transfer"). The other files still go.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES, EXIT_CODES } from '../../src/errors/index.js';
import { assertExit, runFerry, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** ESC [ 3 1 m: a name that would turn a terminal red if printed raw. */
const BAD_NAME = 'bad\x1b[31mred.txt';
const BAD_SHOWN = 'bad\\x1B[31mred.txt';
const PARTIAL_EXIT = EXIT_CODES[ERROR_CODES.PATH_INVALID.category];

describe('names the wire cannot carry are told, counted as not sent, and fail the exit code', () => {
  let dir: string;
  let clientHome: string;
  let root: string;
  let tree: string;
  let server: ServeProcess;
  let serverId: string;

  function ferry(...args: string[]): Promise<CliResult> {
    return runFerry(['--home', clientHome, ...args, '--expect', serverId, '--retries', '0'], { cwd: dir });
  }

  /** No raw control byte but the line ends on stderr; the name named once, escaped. */
  function assertToldOnce(result: CliResult): void {
    const raw = [...result.stderr].find((ch) => ch !== '\n' && (ch < ' ' || ch === '\x7f'));
    assert.equal(raw, undefined, 'a raw control byte reached the terminal');
    const skipped = result.stderr.split('\n').filter((line) => line.startsWith('ferry: skipped '));
    assert.deepEqual(skipped, [`ferry: skipped tree/${BAD_SHOWN}: name cannot be sent: contains byte 0x1b`]);
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-unsendable-');
    root = join(dir, 'root');
    tree = join(dir, 'tree');
    await mkdir(tree);
    await writeFile(join(tree, 'ok.txt'), 'ok');
    await writeFile(join(tree, BAD_NAME), 'bad');
    ({ clientHome, serverId, server } = await startAdmittedServe(dir, root, ['--log-level', 'warn']));
  });

  after(async () => {
    await server.stop();
    await removeTempDir(dir);
  });

  test('send -r sends the others, names the file not sent, and exits with PATH_INVALID', async () => {
    const sent = await ferry('send', '-r', 'tree', `${server.address}/up`, '--mkdir');
    assertExit(sent, PARTIAL_EXIT, 'send -r with a name that cannot be sent');
    assertToldOnce(sent);
    // `up` did not exist: the tree is stored under that name, as scp -r does.
    assert.deepEqual(await readdir(join(root, 'up')), ['ok.txt']);
    const lines = sent.stderr.trimEnd().split('\n');
    assert.match(lines.at(-3)!, /^sent 1 file, .*, 1 failed, digest [0-9a-f]{16}$/, sent.stderr);
    assert.equal(lines.at(-2), `not sent: tree/${BAD_SHOWN} PATH_INVALID`);
    assert.match(
      lines.at(-1)!,
      /^ferry: PATH_INVALID: .*tree\/bad\\x1B\[31mred\.txt: .*; 1 of 2 files not sent$/,
    );
    // --json: the summary is not ok and lists the file with its exact name.
    const json = await ferry('send', '-r', 'tree', `${server.address}/up`, '--json');
    assertExit(json, PARTIAL_EXIT, 'send -r --json');
    const summary = JSON.parse(json.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.equal(summary['type'], 'summary');
    assert.equal(summary['ok'], false);
    assert.equal(summary['code'], 'PATH_INVALID');
    assert.equal(summary['failed'], 1);
    assert.deepEqual(
      (summary['failedFiles'] as Array<{ file: string }>).map((f) => f.file),
      [`tree/${BAD_NAME}`],
    );
  });

  test('sync, and its dry run, say the same and exit with PATH_INVALID', async () => {
    const dry = await ferry('sync', '-n', 'tree', `${server.address}/mirror`);
    assertExit(dry, PARTIAL_EXIT, 'sync -n with a name that cannot be sent');
    assertToldOnce(dry);
    assert.match(
      dry.stderr,
      /dry run: would send 1 file .*, leave out 1 whose names cannot be sent; nothing was changed\n/,
    );
    const synced = await ferry('sync', 'tree', `${server.address}/mirror`);
    assertExit(synced, PARTIAL_EXIT, 'sync with a name that cannot be sent');
    assertToldOnce(synced);
    assert.match(synced.stderr, /^sync: sent 1 file \(1 new, 0 changed\)/m, synced.stderr);
    assert.match(
      synced.stderr.trimEnd().split('\n').at(-1)!,
      /^ferry: PATH_INVALID: .*; 1 of 2 files not sent$/,
    );
    assert.deepEqual(await readdir(join(root, 'mirror')), ['ok.txt']);
  });
});
