// Long fuzz runs, outside `npm test`:
//
//   node --import tsx scripts/fuzz.ts [--target all|NAME[,NAME]] [--ms 600000] [--runs N] [--seed S]
//                                     [--from I] [--hang-ms 30000] [--no-save]
//
// `--ms` is the wall-clock budget of the whole run, split evenly between the targets (each runs in turn).
// Each target runs in a child process: a crash there is reported, not fatal, and a target that stops making
// progress for `--hang-ms` (a synchronous infinite loop blocks its progress timer) is killed and reported
// as a hang. Every failure is saved as a reproducer under test/fuzz/corpus/ (replayed by
// test/fuzz/corpus-replay.test.ts) and printed with its replay command. Prints one line per target, then one
// JSON line `{"fuzz":...}`; exits 1 if anything failed.
import { fork } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FUZZ_TARGET_NAMES,
  createFuzzTarget,
  isFuzzTargetName,
  type FuzzTargetName,
} from '../test/fuzz/fuzz-targets.js';
import { describeReport, runFuzz, type FuzzFailureRecord, type FuzzReport } from '../test/fuzz/run-fuzz.js';
import { inputSeed } from '../test/fuzz/fuzz-budget.js';
import type { ServerFuzzTarget } from '../test/fuzz/targets/server-target.js';
import type { AfterFuzz } from '../test/fuzz/verify-server-after-fuzz.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';

const SELF = fileURLToPath(import.meta.url);
const CORPUS_DIR = fileURLToPath(new URL('../test/fuzz/corpus/', import.meta.url));
const PROGRESS_EVERY_MS = 250;

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function intFlag(name: string, fallback: number): number {
  const text = flag(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, got ${text}`);
  return value;
}

/** What a worker sends its parent. */
type WorkerMessage =
  | { type: 'progress'; inputs: number; lastIndex: number }
  | { type: 'report'; report: FuzzReport; after?: AfterFuzz; afterError?: string };

/** Worker mode: runs one target in this process and reports over IPC. */
async function worker(name: FuzzTargetName): Promise<void> {
  const seed = intFlag('--seed', 0);
  const ms = intFlag('--ms', 10_000);
  const runs = intFlag('--runs', Number.MAX_SAFE_INTEGER);
  const from = intFlag('--from', 0);
  let lastIndex = from;
  let inputs = 0;
  // The targets that run a real server need a directory for its root (the delta relays' for their files too).
  const realServer = name === 'server' || name.endsWith('-delta') || name.endsWith('-sync');
  const work = realServer ? await makeTempDir('ferry-fuzz-') : undefined;
  const target = await createFuzzTarget(name, work === undefined ? undefined : { workDir: work });
  const serverTarget = name === 'server' ? (target as ServerFuzzTarget) : undefined;
  // The timer only fires while the event loop turns: a synchronous hang stops the heartbeat.
  const timer = setInterval(
    () => process.send!({ type: 'progress', inputs, lastIndex } satisfies WorkerMessage),
    PROGRESS_EVERY_MS,
  );
  const rssEvery = 500;
  try {
    const report = await runFuzz(
      target,
      { seed, ms, runs },
      {
        startIndex: from,
        slowInputMs: realServer ? 60_000 : 10_000,
        onInput: (index) => {
          lastIndex = index;
          inputs++;
          if (serverTarget !== undefined && inputs % rssEvery === 0) {
            const at = inputs;
            void serverTarget
              .serverStats()
              .then((s) => serverTarget.rssSamples.push({ inputs: at, rss: s.rss, heapUsed: s.heapUsed }))
              .catch(() => undefined);
          }
        },
      },
    );
    let after: AfterFuzz | undefined;
    let afterError: string | undefined;
    if (serverTarget !== undefined && work !== undefined) {
      try {
        const { verifyServerAfterFuzz } = await import('../test/fuzz/verify-server-after-fuzz.js');
        after = await verifyServerAfterFuzz(serverTarget, work);
      } catch (err) {
        afterError = String(err);
      }
      report.stats['rssSamplesMiB'] = serverTarget.rssSamples
        .map((s) => `${s.inputs}:${(s.rss / 2 ** 20).toFixed(0)}`)
        .join(' ');
    }
    clearInterval(timer);
    process.send!({
      type: 'report',
      report,
      ...(after ? { after } : {}),
      ...(afterError ? { afterError } : {}),
    } satisfies WorkerMessage);
  } finally {
    clearInterval(timer);
    await target.close?.();
    if (work !== undefined) await removeTempDir(work);
  }
}

interface TargetResult {
  target: FuzzTargetName;
  inputs: number;
  ms: number;
  inputsPerSecond: number;
  failures: FuzzFailureRecord[];
  stats: Record<string, number | string>;
  after?: AfterFuzz | undefined;
}

/** Parent mode: runs a target's worker, watching its heartbeat. */
async function runTarget(
  name: FuzzTargetName,
  seed: number,
  ms: number,
  runs: number,
  from: number,
  hangMs: number,
): Promise<TargetResult> {
  const args = [
    '--worker',
    name,
    '--seed',
    String(seed),
    '--ms',
    String(ms),
    '--runs',
    String(runs),
    '--from',
    String(from),
  ];
  const child = fork(SELF, args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < 20_000) stderr += s;
  });
  let lastProgressAt = Date.now();
  let progress = { inputs: 0, lastIndex: from };
  // Filled in by the message handler (an object, so the compiler does not narrow the fields to undefined).
  const got: { report?: FuzzReport; after?: AfterFuzz; afterError?: string } = {};
  let hung = false;
  let started = false;
  child.on('message', (message: WorkerMessage) => {
    lastProgressAt = Date.now();
    started = true;
    if (message.type === 'progress') progress = { inputs: message.inputs, lastIndex: message.lastIndex };
    else Object.assign(got, message);
  });
  const watchdog = setInterval(() => {
    // Loading the target (tsx compiling, a server starting) is not a hang: allow it a minute.
    if (Date.now() - lastProgressAt > (started ? hangMs : Math.max(hangMs, 60_000))) {
      hung = true;
      child.kill('SIGKILL');
    }
  }, 1000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.once('exit', (c, s) => resolve([c, s])),
  );
  clearInterval(watchdog);
  const { report, after, afterError } = got;
  const failures: FuzzFailureRecord[] = [...(report?.failures ?? [])];
  const crash = (message: string): void => {
    failures.push({
      target: name,
      seed,
      index: progress.lastIndex,
      inputSeed: inputSeed(seed, progress.lastIndex),
      message,
      inputHex: '',
    });
  };
  if (hung) crash(`hang: no progress for ${hangMs} ms at or just after input ${progress.lastIndex}`);
  else if (report === undefined)
    crash(
      `worker died (code ${code}, signal ${signal}) near input ${progress.lastIndex}\n${stderr.slice(-4000)}`,
    );
  if (afterError !== undefined) crash(`after the run: ${afterError}`);
  const done = report;
  return {
    target: name,
    inputs: done?.inputs ?? progress.inputs,
    ms: done?.ms ?? ms,
    inputsPerSecond: Math.round(((done?.inputs ?? progress.inputs) * 1000) / Math.max(1, done?.ms ?? ms)),
    failures,
    stats: done?.stats ?? {},
    after,
  };
}

async function saveReproducers(failures: FuzzFailureRecord[]): Promise<string[]> {
  await mkdir(CORPUS_DIR, { recursive: true });
  const saved: string[] = [];
  for (const failure of failures) {
    const file = join(CORPUS_DIR, `${failure.target}-${failure.seed}-${failure.index}.json`);
    await writeFile(file, `${JSON.stringify({ ...failure, status: 'open' }, null, 2)}\n`);
    saved.push(file);
  }
  return saved;
}

async function main(): Promise<void> {
  const workerTarget = flag('--worker');
  if (workerTarget !== undefined) {
    if (!isFuzzTargetName(workerTarget)) throw new Error(`unknown target ${workerTarget}`);
    await worker(workerTarget);
    return;
  }
  const targetText = flag('--target') ?? 'all';
  const names = targetText === 'all' ? [...FUZZ_TARGET_NAMES] : targetText.split(',');
  for (const name of names)
    if (!isFuzzTargetName(name))
      throw new Error(`unknown target ${name}; known: ${FUZZ_TARGET_NAMES.join(', ')}`);
  const totalMs = intFlag('--ms', 60_000);
  const runs = intFlag('--runs', Number.MAX_SAFE_INTEGER);
  const seed = intFlag('--seed', randomInt(1, 2 ** 31));
  const from = intFlag('--from', 0);
  const hangMs = intFlag('--hang-ms', 30_000);
  const perTargetMs = Math.floor(totalMs / names.length);
  console.log(`fuzz: seed ${seed}, ${perTargetMs} ms per target, targets ${names.join(', ')}`);
  const results: TargetResult[] = [];
  for (const name of names as FuzzTargetName[]) {
    const result = await runTarget(name, seed, perTargetMs, runs, from, hangMs);
    results.push(result);
    console.log(
      describeReport({
        target: name,
        seed,
        inputs: result.inputs,
        ms: result.ms,
        slowestInputMs: 0,
        failures: result.failures,
        stats: result.stats,
      }).replace(', slowest 0 ms', ''),
    );
    console.log(`  ${result.inputsPerSecond} inputs/s ${JSON.stringify(result.stats)}`);
    if (result.after) console.log(`  after: ${JSON.stringify(result.after)}`);
    for (const f of result.failures)
      console.log(
        `  replay: node --import tsx scripts/fuzz.ts --target ${f.target} --seed ${f.seed} --from ${f.index} --runs 1`,
      );
  }
  const failures = results.flatMap((r) => r.failures);
  const saved = process.argv.includes('--no-save') ? [] : await saveReproducers(failures);
  for (const file of saved) console.log(`saved reproducer ${file}`);
  console.log(
    JSON.stringify({
      fuzz: 'ferry',
      seed,
      totalMs,
      targets: Object.fromEntries(
        results.map((r) => [
          r.target,
          {
            inputs: r.inputs,
            ms: r.ms,
            inputsPerSecond: r.inputsPerSecond,
            failures: r.failures.length,
            ...(r.after ? { after: r.after } : {}),
          },
        ]),
      ),
      failures: failures.length,
    }),
  );
  process.exitCode = failures.length > 0 ? 1 : 0;
}

await main();
