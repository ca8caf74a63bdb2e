// End to end: a user of scp or rsync copies on one machine with `ferry send a.txt copy` or `ferry sync tree
// copy`; ferry dialled `copy` as a server and said only "could not connect: copy:7443: unknown host". A bare
// name (no port, no path) that is an unknown host now adds that ferry copies only to and from a server. Names
// under `.invalid` never resolve (RFC 6761), so no DNS answer can change the outcome.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, assertSummaryIsTheErrorLine, runFerry, type CliResult } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let home: string;

before(async () => {
  dir = await makeTempDir('ferry-e2e-local-name-hint-');
  home = join(dir, 'home');
  await writeFile(join(dir, 'a.txt'), 'a\n');
  await mkdir(join(dir, 'tree'));
  assertExit(await runFerry(['--home', home, 'keygen']), 0, 'keygen');
});

after(async () => {
  await removeTempDir(dir);
});

function ferry(...args: string[]): Promise<CliResult> {
  return runFerry(['--home', home, ...args, '--accept-new'], { cwd: dir });
}

const hint = (name: string): string =>
  `ferry: CONNECT_FAILED: could not connect: ${name}:7443: unknown host (enotfound); is the name spelt right, or is "${name}" meant as a path on this machine? ferry copies only to and from a server (a local copy is cp)\n`;

test('send or sync to a bare name that is no host says ferry copies only to and from a server', async () => {
  const send = await ferry('send', 'a.txt', 'copy.invalid');
  assertExit(send, 5, 'send a.txt copy.invalid');
  assert.equal(send.stderr, hint('copy.invalid'));
  const sync = await ferry('sync', 'tree', 'mirror.invalid');
  assertExit(sync, 5, 'sync tree mirror.invalid');
  assert.equal(sync.stderr, hint('mirror.invalid'));
});

test('a name written as a server (a port or a path) gets no such hint', async () => {
  for (const target of ['copy.invalid:7443', 'copy.invalid/dir']) {
    const result = await ferry('send', 'a.txt', target);
    assertExit(result, 5, `send a.txt ${target}`);
    assert.equal(
      result.stderr,
      'ferry: CONNECT_FAILED: could not connect: copy.invalid:7443: unknown host (enotfound); is the name spelt right?\n',
    );
  }
});

// send and sync added the hint after the run, which had written --json's summary without it.
test('--json: the summary message of a send and a sync to a bare name is the stderr line, hint included', async () => {
  const send = await ferry('send', 'a.txt', 'copy.invalid', '--json');
  assertExit(send, 5, 'send --json a.txt copy.invalid');
  assert.equal(send.stderr, hint('copy.invalid'));
  assertSummaryIsTheErrorLine(send, 'CONNECT_FAILED');
  const sync = await ferry('sync', 'tree', 'mirror.invalid', '--json');
  assertExit(sync, 5, 'sync --json tree mirror.invalid');
  assert.equal(sync.stderr, hint('mirror.invalid'));
  assertSummaryIsTheErrorLine(sync, 'CONNECT_FAILED');
});
