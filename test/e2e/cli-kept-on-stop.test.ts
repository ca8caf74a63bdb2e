// End to end: a run stopped as a whole, by Ctrl-C or by the network (after its retries), says what it kept
// for the same command to resume from (the file, the bytes verified and kept, and where), and the same
// command then resumes from at least that much. The link is frozen by a proxy after a known number of
// bytes and the test acts once the CLI's own `--json` progress says bytes are verified: no timer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { formatBytes } from '../../src/cli/progress-format.js';
import { FERRY_BIN, assertExit, ferryEnv, runFerry, type CliResult } from '../helpers/cli.js';
import type { FaultPlan, FaultProxy } from '../helpers/fault-proxy.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';
import { writeRandomFile } from '../helpers/random-file.js';
import { resumedBytesOf } from '../../bench/lib/resumed-bytes.js';

const FILE_BYTES = 1024 * 1024;
const FROZEN_AFTER_BYTES = 400 * 1024;

interface JsonLine {
  type: string;
  message?: string;
  verifiedBytes?: number;
  resumedBytes?: number;
}

describe('a stopped run says what it kept and that the same command resumes from it', () => {
  let rig: ServeBehindProxy;
  let clientHome: string;
  let root: string;
  let proxy: FaultProxy;
  let serverId: string;
  let dir: string;

  before(async () => {
    rig = await startServeBehindProxy('ferry-e2e-kept-', ['--durable-batch', '64k', '--log-level', 'warn']);
    ({ dir, clientHome, root, proxy, serverId } = rig);
  });

  after(() => rig.close());

  /**
   * Runs `ferry ARGS --json` through the proxy, whose first connection freezes as `plan` says; once a
   * `progress` line shows verified bytes, `stop` acts (a signal, a reset). Returns the exit code, stderr and
   * the last verified byte count the CLI reported (what its tally holds when it stops).
   */
  async function stoppedRun(
    args: readonly string[],
    plan: FaultPlan,
    stop: (child: ReturnType<typeof spawn>, connection: number) => Promise<void>,
  ): Promise<{ code: number | null; stderr: string; kept: number; summary: string | undefined }> {
    // The proxy numbers connections over the whole file: this run's first is the next one.
    const first = proxy.connections.length;
    proxy.setPlan((index) => (index === first ? plan : undefined));
    const child = spawn(
      process.execPath,
      [FERRY_BIN, '--home', clientHome, ...args, '--expect', serverId, '--chunk-size', '64k', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: ferryEnv() },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const closed = once(child, 'close');
    let kept = 0;
    let summary: string | undefined;
    let stopping: Promise<void> | undefined;
    for await (const line of createInterface({ input: child.stdout })) {
      const event = JSON.parse(line) as JsonLine;
      if (event.type === 'summary') summary = event.message;
      if (event.type !== 'progress' || !(event.verifiedBytes! > 0)) continue;
      kept = event.verifiedBytes!;
      stopping ??= stop(child, first);
    }
    await stopping;
    const [code] = (await closed) as [number | null];
    return { code, stderr, kept, summary };
  }

  function keptLine(file: string, kept: number, where: string): string {
    return `${file}: at least ${formatBytes(kept)} of ${formatBytes(FILE_BYTES)} verified and kept ${where}: run the same command again to resume from there`;
  }

  /** The same command again (through the proxy, no fault now), which must succeed. */
  async function runAgain(args: readonly string[], extra: readonly string[] = []): Promise<CliResult> {
    const rerun = await runFerry([
      '--home',
      clientHome,
      ...args,
      '--expect',
      serverId,
      '--chunk-size',
      '64k',
      ...extra,
    ]);
    assertExit(rerun, 0, 'the same command again');
    return rerun;
  }

  /** Ctrl-C, once `stoppedRun` sees verified bytes. */
  function ctrlC(child: ReturnType<typeof spawn>): Promise<void> {
    child.kill('SIGINT');
    return Promise.resolve();
  }

  /** The same command again with --json: the exact bytes it resumed from. */
  async function resumedOnRerun(args: readonly string[]): Promise<number> {
    const rerun = await runAgain(args, ['--json']);
    const summary = rerun.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as JsonLine)
      .find((e) => e.type === 'summary');
    return summary!.resumedBytes!;
  }

  /** Ctrl-C once bytes are verified, the link frozen in `direction`: one line, then the rerun resumes. */
  async function interruptAndResume(
    args: readonly string[],
    direction: 'clientToServer' | 'serverToClient',
    file: string,
    where: string,
  ): Promise<void> {
    const stopped = await stoppedRun(
      args,
      { stall: { afterBytes: FROZEN_AFTER_BYTES, direction, freeze: 'one' } },
      ctrlC,
    );
    assert.equal(stopped.code, 130, stopped.stderr);
    const said = `aborted: interrupted; ${keptLine(file, stopped.kept, where)}`;
    assert.deepEqual(stopped.stderr.trimEnd().split('\n'), [`ferry: ABORTED: ${said}`]);
    assert.equal(stopped.summary, said, '--json summary says the same');
    assert.ok((await resumedOnRerun(args)) >= stopped.kept, 'the rerun resumed from what was kept');
  }

  test('Ctrl-C in a send names the file and the bytes kept on the server; the rerun resumes from them', async () => {
    const source = join(dir, 'up.bin');
    await writeRandomFile(source, FILE_BYTES);
    const args = ['send', source, proxy.addressText];
    await interruptAndResume(args, 'clientToServer', source, 'on the server');
  });

  /**
   * A send of a fresh file `name` with no retries, its link frozen client to server and reset once bytes
   * are verified: it fails (exit 5). Returns the send's arguments (for the same command again) and the run.
   */
  async function cutSend(
    name: string,
  ): Promise<{ source: string; args: string[]; stopped: Awaited<ReturnType<typeof stoppedRun>> }> {
    const source = join(dir, name);
    await writeRandomFile(source, FILE_BYTES);
    const args = ['send', source, proxy.addressText];
    const stopped = await stoppedRun(
      [...args, '--retries', '0'],
      { stall: { afterBytes: FROZEN_AFTER_BYTES, direction: 'clientToServer', freeze: 'one' } },
      async (_child, connection) => (await proxy.connection(connection)).reset(),
    );
    assert.equal(stopped.code, 5, stopped.stderr);
    return { source, args, stopped };
  }

  test('a send cut by the network (no retries left) says the same after its error', async () => {
    const { source, args, stopped } = await cutSend('cut.bin');
    const last = stopped.stderr.trimEnd().split('\n').at(-1)!;
    assert.match(last, /^ferry: CONNECTION_CLOSED: /, stopped.stderr);
    assert.ok(last.endsWith(`; ${keptLine(source, stopped.kept, 'on the server')}`), stopped.stderr);
    assert.ok((await resumedOnRerun(args)) >= stopped.kept, 'the rerun resumed from what was kept');
  });

  test("bench/lib/resumed-bytes.ts reads the rerun's closing line of a cut send as the bytes held", async () => {
    const { args, stopped } = await cutSend('bench-cut.bin');
    // Text, as the benches run it: `... (1.00 MiB, resumed from 448 KiB) digest ...`. Read as `(\d+)` bytes
    // it was 448, less than the one 64 KiB chunk verified before the cut.
    const rerun = await runAgain(args);
    const held = resumedBytesOf(rerun.stderr);
    assert.ok(held !== undefined && held >= stopped.kept && held < FILE_BYTES, rerun.stderr);
    assert.ok(stopped.kept >= 64 * 1024, `kept ${stopped.kept}`);
    assert.ok(rerun.stderr.includes(`resumed from ${formatBytes(held)})`), rerun.stderr);
  });

  test('Ctrl-C in a sync, then the same sync: its closing line says how much it resumed', async () => {
    const tree = join(dir, 'tree');
    await mkdir(tree);
    await writeRandomFile(join(tree, 'big.bin'), FILE_BYTES);
    const args = ['sync', tree, `${proxy.addressText}/mirror`];
    const stopped = await stoppedRun(
      args,
      { stall: { afterBytes: FROZEN_AFTER_BYTES, direction: 'clientToServer', freeze: 'one' } },
      ctrlC,
    );
    assert.equal(stopped.code, 130, stopped.stderr);
    // Text this time: the rerun's one closing line ("on the wire 640 KiB" alone left 384 KiB unexplained),
    // and nothing of a delta: the file was new, it went whole.
    const rerun = await runAgain(args);
    const resumed = /^sync: sent 1 file .*; file data on the wire (.+?), (.+?) resumed; /m.exec(rerun.stderr);
    assert.ok(resumed, rerun.stderr);
    // Chunks of 64 KiB: both sizes are whole KiB, as formatBytes writes them (`640 KiB`, `1.00 MiB`).
    const unit: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 * 1024 };
    const bytes = (text: string): number => {
      const [, number, name] = /^([\d.]+) (B|KiB|MiB)$/.exec(text)!;
      return Math.round(Number(number) * unit[name!]!);
    };
    assert.ok(bytes(resumed[2]!) >= stopped.kept, rerun.stderr);
    assert.equal(bytes(resumed[1]!) + bytes(resumed[2]!), FILE_BYTES, rerun.stderr);
  });

  test('Ctrl-C in a get names the local file and the bytes kept locally; the rerun resumes from them', async () => {
    await writeRandomFile(join(root, 'down.bin'), FILE_BYTES);
    const local = join(dir, 'down.bin');
    const args = ['get', `${proxy.addressText}/down.bin`, local];
    await interruptAndResume(args, 'serverToClient', local, 'locally');
  });
});
