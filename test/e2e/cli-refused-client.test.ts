// End to end: a client the server does not allow is told so (CLIENT_NOT_ALLOWED), every time, and never
// retries. The server refuses right after the handshake, while the client's first requests are already on
// the way: a server that closed with them unread answered them with a reset, and a client that took the
// close for a cut before it read the ERROR printed `CONNECTION_CLOSED: retrying` (seen once).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

/** Refused sends in all; a few at once, so the server refuses while it is busy with the others. */
const RUNS = 20;
const AT_ONCE = 4;

describe('ferry CLI: a client that is not allowed', () => {
  let dir: string;
  let strangerHome: string;
  let server: ServeProcess | undefined;

  before(async () => {
    dir = await makeTempDir();
    const serverHome = join(dir, 'server-home');
    strangerHome = join(dir, 'stranger-home');
    assertExit(await runFerry(['--home', serverHome, 'keygen']), 0, 'keygen (server)');
    assertExit(await runFerry(['--home', strangerHome, 'keygen']), 0, 'keygen (client)');
    server = await startServe(['--home', serverHome, '--root', join(dir, 'root')]);
  });

  after(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test(`sees CLIENT_NOT_ALLOWED and no retry, ${RUNS} times out of ${RUNS} (send --accept-new, several files)`, async () => {
    const sources: string[] = [];
    for (let i = 0; i < 3; i++) {
      const source = join(dir, `file-${i}.bin`);
      await writeRandomFile(source, 70_000);
      sources.push(source);
    }
    const outcomes: string[] = [];
    for (let started = 0; started < RUNS; started += AT_ONCE) {
      const batch = Array.from({ length: Math.min(AT_ONCE, RUNS - started) }, () =>
        runFerry([
          '--home',
          strangerHome,
          'send',
          ...sources,
          `${server!.address}/in/`,
          '--mkdir',
          '--accept-new',
          '--chunk-size',
          '64k',
        ]),
      );
      for (const result of await Promise.all(batch)) {
        assertExit(result, 4, 'send from a client that is not allowed');
        assert.match(result.stderr, /CLIENT_NOT_ALLOWED/);
        assert.doesNotMatch(result.stderr, /retrying|CONNECTION_CLOSED/, result.stderr);
        outcomes.push('refused');
      }
    }
    assert.equal(outcomes.length, RUNS);
  });
});
