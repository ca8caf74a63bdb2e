// bin/ferry run as a command (as an installed `ferry` is: its `#!/bin/sh` line) is a launcher first: it
// leaves NODE_EXTRA_CA_CERTS out of every command's environment but `serve`'s, then execs node on itself.
// Node 20 parses the file that variable names, and its own roots, as each process starts (nodejs/node#40524;
// 75 ms of every command on this machine), and only `serve` makes TLS connections (an https S3 endpoint).
// Node warns at start-up when the file cannot be read: the warning says whether the variable reached it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { subcommandOf } from '../../src/cli/command-modules.js';
import { startAdmittedServeInTempDir, type AdmittedCliInTempDir } from '../helpers/admitted-cli.js';
import { assertExit, FERRY_BIN, runFerry } from '../helpers/cli.js';
import { sha256File } from '../helpers/random-file.js';

const MISSING_CA_FILE = '/nonexistent/ferry-launcher-test/ca.pem';
const NODE_READ_IT = /Ignoring extra certs from/;
const ENV = { NODE_EXTRA_CA_CERTS: MISSING_CA_FILE };

let rig: AdmittedCliInTempDir;

before(async () => {
  rig = await startAdmittedServeInTempDir('ferry-launcher-', async (root) => {
    await writeFile(join(root, 'kept.txt'), 'kept on the server\n');
  });
});

after(() => rig.close());

test('the launcher keeps NODE_EXTRA_CA_CERTS for serve alone, finding the command as the CLI does', async () => {
  const home = rig.clientHome;
  const argvs: string[][] = [
    ['--version'],
    ['--home', home, 'id'],
    ['sync', '--help'],
    ['--home', 'serve', '--version'],
    ['help', 'serve'],
    ['serve', '--help'],
    ['--home', home, 'serve', '--help'],
    ['--debug', 'serve', '--help'],
    ['--', 'serve', '--help'],
  ];
  for (const argv of argvs) {
    const kept = subcommandOf(argv) === 'serve';
    const run = await runFerry(argv, { bin: FERRY_BIN, env: ENV });
    assert.equal(NODE_READ_IT.test(run.stderr), kept, `ferry ${argv.join(' ')}: ${run.stderr}`);
  }
  // The expectations above are not all one way.
  assert.deepEqual(
    argvs.map((argv) => subcommandOf(argv) === 'serve'),
    [false, false, false, false, false, true, true, true, true],
  );
});

test('`node bin/ferry` runs the script alone: the variable reaches node', async () => {
  const run = await runFerry(['--version'], { env: ENV });
  assertExit(run, 0, 'node bin/ferry --version');
  assert.match(run.stderr, NODE_READ_IT);
});

test('a client run through the launcher transfers both ways', async () => {
  const local = join(rig.dir, 'local.txt');
  await writeFile(local, 'sent through the launcher\n');
  const pin = ['--expect', rig.server.id, '--retries', '0'];
  const address = rig.server.address;
  const sent = await runFerry(
    ['--home', rig.clientHome, 'send', '-q', local, `${address}/sent.txt`, ...pin],
    {
      bin: FERRY_BIN,
      env: ENV,
    },
  );
  assertExit(sent, 0, 'send');
  assert.doesNotMatch(sent.stderr, NODE_READ_IT);
  assert.equal(await sha256File(join(rig.root, 'sent.txt')), await sha256File(local));
  const got = await runFerry(
    ['--home', rig.clientHome, 'get', '-q', `${address}/kept.txt`, `${rig.dir}/`, ...pin],
    {
      bin: FERRY_BIN,
      env: ENV,
    },
  );
  assertExit(got, 0, 'get');
  assert.equal(await sha256File(join(rig.dir, 'kept.txt')), await sha256File(join(rig.root, 'kept.txt')));
});
