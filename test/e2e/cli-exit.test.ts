// The CLI exits as soon as its event loop has nothing left to do (src/cli/main.ts: process.exit in
// beforeExit, sparing Node's teardown of the heap and its threads). Nothing may be cut short by that: every
// --json line whole on a pipe, the exit code the command decided, and the work that goes on after the command's
// answer (a get's leaf hashes recorded in the home's cache once the file has its name) done before the exit.
// Run against the built CLI: `npm run build`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { assertExit, runFerry, type ServeProcess } from '../helpers/cli.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const FILES = 12;
/** The smallest files whose leaf hashes a get remembers (LEAF_DELTA_FROM_BYTES, known-leaf-hashes.ts). */
const REMEMBERED_BYTES = 16 * 1024 * 1024 + 4321;

describe('the CLI exits once its work is done, with nothing cut short', () => {
  let dir: string;
  let root: string;
  let clientHome: string;
  let server: ServeProcess | undefined;
  let common: string[];

  before(async () => {
    dir = await makeTempDir('ferry-e2e-exit-');
    root = join(dir, 'root');
    const admitted = await startAdmittedServe(dir, root, ['--log-level', 'warn']);
    clientHome = admitted.clientHome;
    server = admitted.server;
    common = ['--home', clientHome, '--expect', server.id];
  });

  after(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test('send --json into a pipe: every line whole, one per file event and the summary last, exit 0', async () => {
    const files: string[] = [];
    for (let i = 0; i < FILES; i++) {
      const file = join(dir, `f${i}.bin`);
      await writeRandomFile(file, 1000 + i * 777);
      files.push(file);
    }
    const sent = await runFerry([
      'send',
      '--json',
      ...files,
      `${server!.address}/json/`,
      '--mkdir',
      ...common,
    ]);
    assertExit(sent, 0, 'send --json');
    assert.ok(sent.stdout.endsWith('\n'), 'the last line ends');
    const lines = sent.stdout.trimEnd().split('\n');
    const events = lines.map((line) => JSON.parse(line) as { type?: string; event?: string });
    assert.ok(events.length >= FILES, `${events.length} lines`);
    assert.equal(events.at(-1)?.type, 'summary', sent.stdout);
    for (let i = 0; i < FILES; i++)
      assert.equal(await sha256File(join(root, 'json', `f${i}.bin`)), await sha256File(files[i]!));
  });

  test('a failed send keeps its exit code and its error line', async () => {
    const failed = await runFerry([
      'send',
      '--json',
      join(dir, 'missing.bin'),
      `${server!.address}/json/`,
      ...common,
    ]);
    assert.notEqual(failed.code, 0, 'a missing source fails');
    assert.notEqual(failed.code, null, 'an exit, not a signal');
    assert.match(failed.stdout + failed.stderr, /missing\.bin|not found|ENOENT|NOT_FOUND/i);
  });

  test('get records the file leaf hashes in the home before it exits', async () => {
    const file = join(root, 'remembered.bin');
    const digest = await writeRandomFile(file, REMEMBERED_BYTES);
    const into = join(dir, 'into');
    const got = await runFerry([
      'get',
      `${server!.address}/remembered.bin`,
      `${into}/`,
      '--mkdir',
      ...common,
    ]);
    assertExit(got, 0, 'get');
    assert.equal(await sha256File(join(into, 'remembered.bin')), digest);
    const leaves = await readdir(join(clientHome, 'cache', 'leaves'));
    assert.ok(
      leaves.some((name) => name.endsWith('.leaves')),
      `the leaf hashes recorded: ${leaves.join(', ')}`,
    );
    assert.ok(!leaves.some((name) => name.endsWith('.tmp')), `no record half written: ${leaves.join(', ')}`);
  });
});
