// A `ferry sync` or `send -r` that fails early says what it left out of the tree before its error (stop 31).
// The local tree is walked while the session connects; a link leading out of the tree is reported once the
// walk is done. A run that failed first (the server refused the connection) printed its error and then,
// after it, `ferry: skipped ...`, from the walk still running: the last line the user saw was a warning,
// not why the run failed. Now the run's failure waits for the walk. The CLI (bin/ferry) is spawned against a
// loopback port nothing listens on; the tree holds 2,000 empty files, so its walk outlasts the refusal.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** The CLI's exit status for a network error (errors/exit-codes.ts). */
const EXIT_NETWORK = 5;

/** A loopback port that was just free: listened on, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function rig(t: TestContext): Promise<{ home: string; tree: string; address: string }> {
  const dir = await makeTempDir('ferry-skipped-before-error-');
  t.after(() => removeTempDir(dir));
  const home = join(dir, 'home');
  const tree = join(dir, 'tree');
  assertExit(await runFerry(['keygen', '--home', home]), 0, 'keygen');
  for (let d = 0; d < 20; d++) {
    await mkdir(join(tree, `d${d}`), { recursive: true });
    await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(join(tree, `d${d}`, `f${f}`), '')));
  }
  await symlink(join(dir, 'home'), join(tree, 'out-link'));
  return { home, tree, address: `127.0.0.1:${await closedPort()}` };
}

for (const command of [['sync'], ['send', '-r']]) {
  test(`a failed \`ferry ${command.join(' ')}\` says the link it skipped before its error`, async (t) => {
    const { home, tree, address } = await rig(t);
    const result = await runFerry([...command, tree, `${address}/dst`, '--accept-new', '--home', home]);
    assertExit(result, EXIT_NETWORK, `${command.join(' ')} to a closed port`);
    const lines = result.stderr.trimEnd().split('\n');
    const skipped = lines.findIndex((l) => l.includes('skipped') && l.includes('out-link'));
    const failed = lines.findIndex((l) => l.includes('CONNECT_FAILED'));
    assert.ok(skipped >= 0, `the skipped link is said: ${result.stderr}`);
    assert.ok(failed >= 0, `the error is said: ${result.stderr}`);
    assert.equal(failed, lines.length - 1, `the error is the last line: ${result.stderr}`);
    assert.ok(skipped < failed, `the warning comes before the error: ${result.stderr}`);
  });
}
