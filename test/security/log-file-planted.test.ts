// Stop 42 security pass: `--log-file PATH` was opened by pino following a link at its name, and appended to
// whatever file it led to. A log line holds names another party chose (here a server's listing), and a shell
// runs `"$(...)"` inside one: a local user who may write where the log goes (a shared directory that is not
// sticky, beyond the kernel's protected_symlinks) planted `ferry.log -> rc.sh`, and the next `ferry get -r`
// put a command of the server's choosing into the user's shell start-up file. Now the log is opened with
// O_NOFOLLOW and kept only as a regular file of the user's (src/cli/log-file.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chown, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES, EXIT_CODES } from '../../src/errors/index.js';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import { startAdmittedServeInTempDir, type AdmittedCliInTempDir } from '../helpers/admitted-cli.js';

const USAGE_EXIT = EXIT_CODES[ERROR_CODES.USAGE_INVALID.category];
/** A name a server may list: a shell that reads it inside double quotes runs `touch PWNED`. */
const HOSTILE_NAME = '$(touch PWNED)';
const RC = "# the user's shell start-up file\n";

describe('--log-file is appended only as a regular file of the user, never through a link', () => {
  let rig: AdmittedCliInTempDir;
  let dir: string;

  function getWithLog(log: string, dest: string): Promise<CliResult> {
    const args = ['get', '-r', `${rig.server.address}/d`, dest, '--log-file', log, '--expect', rig.serverId];
    return runFerry(['--home', rig.clientHome, ...args], { cwd: dir });
  }

  before(async () => {
    rig = await startAdmittedServeInTempDir(
      'ferry-sec-log-file-',
      async (root) => {
        await mkdir(join(root, 'd'));
        await writeFile(join(root, 'd', HOSTILE_NAME), 'x');
      },
      ['--log-level', 'warn'],
    );
    dir = rig.dir;
    await mkdir(join(dir, 'shared'));
  });

  after(() => rig.close());

  test('a link planted at the log name is refused, and the file it leads to is untouched', async () => {
    const rc = join(dir, 'rc.sh');
    await writeFile(rc, RC);
    await symlink('../rc.sh', join(dir, 'shared', 'ferry.log'));
    const got = await getWithLog(join(dir, 'shared', 'ferry.log'), join(dir, 'got1'));
    // Before: exit 0, and rc.sh held the transfer's log line, whose name the shell below ran.
    assertExit(got, USAGE_EXIT, 'get -r with a link at the log name');
    assert.match(got.stderr, /--log-file .*ferry\.log is a symbolic link; name the file itself/);
    assert.equal(await readFile(rc, 'utf8'), RC);
    spawnSync('bash', [rc], { cwd: dir, stdio: 'ignore' });
    await assert.rejects(stat(join(dir, 'PWNED')), { code: 'ENOENT' });
  });

  test(
    'a log file another user owns is refused',
    { skip: process.geteuid?.() !== 0 && 'needs root to chown' },
    async () => {
      const theirs = join(dir, 'shared', 'theirs.log');
      await writeFile(theirs, '');
      await chown(theirs, 65534, 65534);
      const got = await getWithLog(theirs, join(dir, 'got2'));
      // Before: exit 0, and the other user's file held this user's records.
      assertExit(got, USAGE_EXIT, 'get -r with a log file of another user');
      assert.match(got.stderr, /is owned by uid 65534, not by you \(uid 0\) or root/);
      assert.equal(await readFile(theirs, 'utf8'), '');
    },
  );

  test('a log file of the user is appended to, and a new one is made 0600', async () => {
    const own = join(dir, 'own.log');
    await writeFile(own, 'earlier\n', { mode: 0o644 });
    assertExit(await getWithLog(own, join(dir, 'got3')), 0, 'get -r with an existing log of ours');
    const text = await readFile(own, 'utf8');
    assert.ok(text.startsWith('earlier\n{'), text);
    assert.ok(text.includes('"event":"transfer-finished"'), text);
    const fresh = join(dir, 'logs', 'new.log');
    assertExit(await getWithLog(fresh, join(dir, 'got4')), 0, 'get -r with a new log');
    assert.equal((await stat(fresh)).mode & 0o777, 0o600);
  });
});
