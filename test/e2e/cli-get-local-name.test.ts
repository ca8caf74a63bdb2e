// End to end: `ferry get notes.txt` with notes.txt a file here (the user meant it as the file, or meant to
// send it) is refused before connecting saying so, not "notes.txt:7443: is your root on the server, a
// directory". A bare word that names nothing here is still taken as a host.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('ferry-e2e-get-local-name-');
  await writeFile(join(dir, 'notes.txt'), 'mine');
});
after(() => removeTempDir(dir));

test('`ferry get FILE` of a file on this machine says get downloads HOST/PATH, and how to send it', async () => {
  const result = await runFerry(['--home', dir, 'get', 'notes.txt'], { cwd: dir });
  assertExit(result, 2, 'get notes.txt');
  assert.equal(
    result.stderr,
    'ferry: USAGE_INVALID: invalid usage: notes.txt: is on this machine: get downloads HOST[:PORT]/PATH from a server; `ferry send notes.txt HOST[:PORT]` uploads it\n',
  );
  const host = await runFerry(['--home', dir, 'get', 'elsewhere'], { cwd: dir });
  assertExit(host, 2, 'get elsewhere');
  assert.match(host.stderr, /elsewhere:7443: is your root on the server, a directory/);
});
