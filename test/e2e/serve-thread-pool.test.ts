// bin/ferry sizes libuv's thread pool (UV_THREADPOOL_SIZE 16 unless set outside), which carries every file
// operation, fdatasync and WebCrypto digest of the server: with the default 4, four clients' fdatasyncs
// stall every other session's file work. The setting takes effect only if nothing started the pool before
// it (libuv reads the variable once): an ES module entry is read through the pool by Node's loader, so
// bin/ferry is a CommonJS script. Observable: a `ferry serve` runs 12 more threads than one started with
// UV_THREADPOOL_SIZE=4 from outside. Linux (/proc); run against the built CLI: `npm run build`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** bin/ferry's pool size, and libuv's default, which a value set outside the process must still select. */
const FERRY_POOL = 16;
const LIBUV_DEFAULT_POOL = 4;

let dir: string;
const servers: ServeProcess[] = [];

before(async () => {
  // The servers inherit this process's environment (ferryEnv): the default case must not get a size from it.
  // Each test file runs in a process of its own.
  delete process.env['UV_THREADPOOL_SIZE'];
  dir = await makeTempDir('ferry-thread-pool-');
  assertExit(await runFerry(['--home', join(dir, 'home'), 'keygen']), 0, 'keygen');
});

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await removeTempDir(dir);
});

/**
 * The threads of a `ferry serve` once its banner is out: by then it has read its home with asynchronous
 * file calls, so libuv's pool has started, and libuv starts all of its threads before the first call runs.
 */
async function serveThreads(env: Record<string, string> = {}): Promise<number> {
  const server = await startServe(
    ['--home', join(dir, 'home'), '--root', join(dir, 'root'), '--log-level', 'warn'],
    { env },
  );
  servers.push(server);
  const threads = readdirSync(`/proc/${server.process.pid}/task`).length;
  await server.stop();
  return threads;
}

test('ferry serve runs libuv with 16 pool threads, and a size set outside the process wins', async () => {
  const outsideDefault = await serveThreads({ UV_THREADPOOL_SIZE: String(LIBUV_DEFAULT_POOL) });
  const ferrys = await serveThreads();
  const outsideSame = await serveThreads({ UV_THREADPOOL_SIZE: String(FERRY_POOL) });
  assert.equal(
    ferrys - outsideDefault,
    FERRY_POOL - LIBUV_DEFAULT_POOL,
    `bin/ferry's pool size took effect (threads: ${ferrys} vs ${outsideDefault} with UV_THREADPOOL_SIZE=4)`,
  );
  assert.equal(ferrys, outsideSame, 'the same threads as with UV_THREADPOOL_SIZE=16 set outside');
});
