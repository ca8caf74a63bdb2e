// The CLI's get and sync hand a replaced file of 64 MiB or more to a `/bin/cat` child that frees it after
// ferry has exited (src/transfer/replaced-file.ts; it really runs since 6e1c302). That child must get the held
// file and nothing else of ferry's: not a descriptor ferry itself inherited without close-on-exec (a caller's
// pipe, which the caller then saw end only once the child's freeing had ended), not ferry's environment, not
// its working directory. And however many finishes replace files at once, at most MAX_FREEING_REPLACED old
// files wait to be freed. Run against the built CLI: `npm run build`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  FREE_IN_CHILD_MIN_BYTES,
  freeReplacedLater,
  holdReplaced,
  MAX_FREEING_REPLACED,
  replacedFilesFreed,
} from '../../src/transfer/replaced-file.js';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { FERRY_BIN, ferryEnv, type ServeProcess } from '../helpers/cli.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** A descriptor number Node leaves as it inherited it (it marks a few low ones close-on-exec at start-up). */
const INHERITED_FD = 40;
const MARKER = 'ferry-holder-environment-marker';

/**
 * Preloaded into `ferry`: right after it starts `/bin/cat` (libuv's spawn returns once the program is
 * exec'd), reports on stderr what the holder has, `holder {fds, environ, cwd}`, and whether ferry itself
 * had INHERITED_FD open without close-on-exec (`inherited FLAGS`), so the test can tell it had one to pass on.
 */
const PROBE = `data:text/javascript,${encodeURIComponent(`
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { readdirSync, readFileSync, readlinkSync, writeSync } from 'node:fs';
const flags = /^flags:\\s*(\\d+)$/m.exec(readFileSync('/proc/self/fdinfo/${INHERITED_FD}', 'latin1'))?.[1];
writeSync(2, 'inherited ' + flags + '\\n');
const original = childProcess.spawn;
childProcess.spawn = function (command, ...rest) {
  const child = original.call(this, command, ...rest);
  if (command === '/bin/cat' && child.pid !== undefined) {
    const proc = '/proc/' + child.pid;
    const fds = Object.fromEntries(readdirSync(proc + '/fd').map((fd) => [fd, readlinkSync(proc + '/fd/' + fd)]));
    const environ = readFileSync(proc + '/environ', 'latin1').split('\\0').filter(Boolean);
    writeSync(2, 'holder ' + JSON.stringify({ fds, environ, cwd: readlinkSync(proc + '/cwd') }) + '\\n');
  }
  return child;
};
syncBuiltinESMExports();
`)}`;

interface HolderReport {
  fds: Record<string, string>;
  environ: string[];
  cwd: string;
}

describe('the replaced file holder', () => {
  let dir: string;
  let root: string;
  let server: ServeProcess | undefined;
  let common: string[];

  before(async () => {
    dir = await makeTempDir('ferry-holder-');
    root = join(dir, 'root');
    await mkdir(root);
    const admitted = await startAdmittedServe(dir, root, ['--log-level', 'warn']);
    server = admitted.server;
    common = ['--home', admitted.clientHome, '--expect', server.id];
  });

  after(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test('gets the held file as its descriptor 3 and nothing else of ferry: no inherited descriptor, no environment, no directory', async () => {
    // The served file is small (several chunks, so the finish holds what it replaces); the local one it
    // replaces is sparse, as large as a child is started for.
    const served = join(root, 'served.bin');
    const digest = await writeRandomFile(served, 3 * 1024 * 1024 + 17);
    const into = join(dir, 'into');
    await mkdir(into);
    const replaced = join(into, 'served.bin');
    await writeFile(replaced, 'old');
    await truncate(replaced, FREE_IN_CHILD_MIN_BYTES);

    const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe'];
    while (stdio.length < INHERITED_FD) stdio.push('ignore');
    stdio.push('pipe'); // ferry's descriptor INHERITED_FD: a socket whose other end we hold, not close-on-exec
    const child = spawn(
      process.execPath,
      [
        '--import',
        PROBE,
        FERRY_BIN,
        'get',
        '-q',
        '--overwrite',
        `${server!.address}/served.bin`,
        into,
        ...common,
      ],
      { stdio, env: ferryEnv({ FERRY_HOLDER_TEST: MARKER }), cwd: dir },
    );
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout!.resume();
    (child.stdio as unknown as Array<NodeJS.ReadableStream | null>)[INHERITED_FD]!.resume();
    const [code] = (await once(child, 'close')) as [number | null];
    clearTimeout(deadline);

    assert.equal(code, 0, stderr);
    assert.equal(await sha256File(replaced), digest);
    const flags = /^inherited (\d+)$/m.exec(stderr)?.[1];
    assert.ok(
      flags !== undefined && (parseInt(flags, 8) & 0o2000000) === 0,
      `ferry inherited fd ${INHERITED_FD}: ${stderr}`,
    );
    const line = /^holder (.+)$/m.exec(stderr)?.[1];
    assert.ok(line !== undefined, `/bin/cat was never started: ${stderr}`);
    const holder = JSON.parse(line) as HolderReport;
    // Its input, /dev/null out, and the held file: at 3 and at each number ferry inherited (libuv closes none).
    assert.equal(holder.fds['1'], '/dev/null');
    assert.equal(holder.fds['2'], '/dev/null');
    assert.ok(holder.fds['3']?.startsWith(replaced), `fd 3 is the replaced file: ${holder.fds['3']}`);
    for (const [fd, target] of Object.entries(holder.fds))
      if (Number(fd) > 2) assert.ok(target.startsWith(replaced), `the holder's fd ${fd} is ${target}`);
    assert.deepEqual(holder.environ, [], 'the holder gets no environment');
    assert.equal(holder.cwd, '/');
  });

  test(`at most ${MAX_FREEING_REPLACED} replaced files are held or freeing at once, however many finishes ask together`, async () => {
    const files: string[] = [];
    for (let i = 0; i <= MAX_FREEING_REPLACED; i++) {
      files.push(join(dir, `held-${i}`));
      await writeFile(files[i]!, `old ${i}`);
    }
    // Every finish asks before any lets go (many uploads finishing at once): before, each got a hold.
    const holds = files.map((file) => holdReplaced(file));
    const early = await Promise.all(holds.slice(0, MAX_FREEING_REPLACED));
    let letGo = false;
    const last = holds[MAX_FREEING_REPLACED]!.then((held) => {
      assert.ok(letGo, `a hold past ${MAX_FREEING_REPLACED} was given while they were all held`);
      return held;
    });
    // Pool round trips after the last ask: its open, were it let through, has long completed.
    for (let i = 0; i < 20; i++) await stat(files[0]!);
    letGo = true;
    freeReplacedLater(early[0]);
    const held = await last;
    assert.ok(held !== undefined);
    freeReplacedLater(early[1]);
    freeReplacedLater(held);
    await replacedFilesFreed();
  });
});
