// End to end: scp's and rsync's `-p` (and rsync's `-t`) mean "keep modes and times", which `send` and `get`
// always do; ferry's `-p` used to mean mkdir's "make the missing directories", so an scp user's habit quietly
// made the directories of a mistyped path. Now `-p` is refused before connecting, saying that modes and mtimes
// are kept anyway and that `--mkdir` is the flag that makes directories; and the claim is held true here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const KEPT = 'ferry always keeps modes and mtimes, as scp -p does';
const MTIME_S = 1_600_000_123;

describe("scp's -p on send and get", () => {
  let dir: string;
  let root: string;
  let rig: AdmittedCli | undefined;

  before(async () => {
    dir = await makeTempDir('ferry-e2e-scp-p-');
    root = join(dir, 'root');
    rig = await startAdmittedServe(dir, root, ['--log-level', 'warn']);
  });

  after(async () => {
    await rig?.server.stop();
    await removeTempDir(dir);
  });

  for (const [args, option, flag, side] of [
    [['send', '-p', 'f.txt', 'HOST/tpyo/f.txt'], '-p', '-p', 'remote'],
    [['send', '-rp', 'tree', 'HOST/tpyo/'], '-p', '-p', 'remote'],
    [['get', '-p', 'HOST/f.txt', 'tpyo/f.txt'], '-p', '-p', 'local'],
    [['get', '--times', 'HOST/f.txt', '.'], '--times', '--times', 'local'],
  ] as const) {
    test(`\`ferry ${args.join(' ')}\` is refused before connecting, naming --mkdir`, async () => {
      const argv = args.map((arg) => arg.replace('HOST', rig!.server.address));
      const result = await runFerry(['--home', rig!.clientHome, ...argv, '--expect', rig!.serverId], {
        cwd: dir,
      });
      assertExit(result, 2, args.join(' '));
      assert.equal(
        result.stderr,
        `ferry: USAGE_INVALID: unknown option '${option}' (${KEPT}: leave out ${flag}; --mkdir creates missing ${side} directories); see \`ferry ${args[0]} --help\`\n`,
      );
      assert.equal(existsSync(join(root, 'tpyo')), false, 'no remote directory made');
      assert.equal(existsSync(join(dir, 'tpyo')), false, 'no local directory made');
    });
  }

  test('send and get without flags keep the mode and mtime, and --mkdir makes the missing directories', async () => {
    const source = join(dir, 'kept.txt');
    await writeFile(source, 'kept\n');
    await chmod(source, 0o640);
    await utimes(source, MTIME_S, MTIME_S);
    const common = ['--home', rig!.clientHome, '--expect', rig!.serverId];
    const address = rig!.server.address;
    assertExit(await runFerry(['send', source, `${address}/a/b/`, '--mkdir', ...common]), 0, 'send --mkdir');
    const sent = await stat(join(root, 'a', 'b', 'kept.txt'));
    assert.equal(sent.mode & 0o777, 0o640, 'mode kept by send');
    assert.equal(Math.floor(sent.mtimeMs / 1000), MTIME_S, 'mtime kept by send');
    const local = join(dir, 'down', 'deeper');
    assertExit(
      await runFerry(['get', `${address}/a/b/kept.txt`, `${local}/`, '--mkdir', ...common]),
      0,
      'get',
    );
    const got = await stat(join(local, 'kept.txt'));
    assert.equal(await readFile(join(local, 'kept.txt'), 'utf8'), 'kept\n');
    assert.equal(got.mode & 0o777, 0o640, 'mode kept by get');
    assert.equal(Math.floor(got.mtimeMs / 1000), MTIME_S, 'mtime kept by get');
  });
});
