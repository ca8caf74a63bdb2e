// End to end: arguments a new user gets the wrong way round. A path on this machine where a server is
// expected (`get /tmp/a.txt .`, `send a.txt ./dir`) was read as a host named "" or "." ("not a host name"),
// a missing local SRC of `sync` spelt as a path (`/x`, `./x`) likewise, and `get HOST` without a remote path
// connected only to have the server refuse an empty path, naming nothing. Each is now refused before any
// connection (nothing listens on the address, and the home has no identity), saying what to do instead.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** Nothing listens here: a run that got as far as connecting would fail with CONNECT_FAILED (exit 5). */
const NOBODY = '127.0.0.1:1';

let dir: string;
let file: string;

before(async () => {
  dir = await makeTempDir('ferry-e2e-local-path-');
  file = join(dir, 'a.txt');
  await writeFile(file, 'a\n');
});

after(async () => {
  await removeTempDir(dir);
});

/** `ferry ARGS` in `dir`, with a home that holds no identity (reaching for it would be exit 3). */
function ferry(...args: string[]): Promise<CliResult> {
  return runFerry(['--home', join(dir, 'no-home'), ...args], { cwd: dir });
}

function assertLocalPathRefused(result: CliResult, path: string, what: string): void {
  assertExit(result, 2, what);
  assert.equal(
    result.stderr,
    `ferry: USAGE_INVALID: invalid usage: ${path}: is a path on this machine, where a server was expected: HOST[:PORT][/REMOTE_PATH]\n`,
    what,
  );
}

test('a local path where a server is expected is named as one, not as a host named "" or "."', async () => {
  assertLocalPathRefused(await ferry('get', file, '.'), file, 'get with a local source');
  assertLocalPathRefused(await ferry('send', file, './copy'), './copy', 'send to a local path');
  assertLocalPathRefused(await ferry('send', file, '../copy'), '../copy', 'send to a parent path');
  assertLocalPathRefused(await ferry('ls', dir), dir, 'ls of a local directory');
});

test('sync: a missing SRC spelt as a local path is PATH_NOT_FOUND here, as send says it', async () => {
  for (const src of [join(dir, 'missing'), './missing']) {
    const result = await ferry('sync', src, `${NOBODY}/mirror`);
    assertExit(result, 7, `sync ${src}`);
    assert.equal(
      result.stderr,
      `ferry: PATH_NOT_FOUND: no such file or directory: ${src}: nothing to sync from there on this machine\n`,
    );
  }
});

test('get HOST without a remote path or -r: the root is a directory, said before connecting', async () => {
  for (const source of [NOBODY, `${NOBODY}/`]) {
    const result = await ferry('get', source, join(dir, 'x'));
    assertExit(result, 2, `get ${source}`);
    assert.equal(
      result.stderr,
      `ferry: USAGE_INVALID: invalid usage: ${NOBODY}: is your root on the server, a directory; add -r to get it as a tree, or name a file in it (\`ferry ls ${NOBODY}\` lists them)\n`,
    );
  }
  // With -r the root is a tree to get: it goes on to connect (and here finds no server).
  const tree = await ferry('get', '-r', NOBODY, join(dir, 'x'));
  assert.notEqual(tree.code, 2, tree.stderr);
});
