import { performance } from 'node:perf_hooks';
import { SeededRandom } from '../helpers/seeded-random.js';
import { inputSeed, type FuzzBudget } from './fuzz-budget.js';

/**
 * A property a fuzz input broke. `input` is the offending bytes (or a description of them), so the report
 * can be saved as a reproducer under test/fuzz/corpus/.
 */
export class FuzzFailure extends Error {
  readonly input: Buffer;

  constructor(message: string, input: Buffer = Buffer.alloc(0)) {
    super(message);
    this.name = 'FuzzFailure';
    this.input = input;
  }
}

/** One fuzz target: derives an input from `random` and checks every property on it. */
export interface FuzzTarget {
  readonly name: string;
  /** Inputs run at once (async targets such as the server); 1 for the pure decoders. */
  readonly concurrency?: number;
  /** Runs one input; throws (preferably a FuzzFailure) when a property is broken. */
  one(random: SeededRandom, index: number): void | Promise<void>;
  /** Figures worth reporting after a run (inputs by kind, memory, ...). */
  stats?(): Record<string, number | string>;
  /** What the target is doing now, for a report of an input that seems stuck (a relay's server sessions). */
  describeRunning?(): string;
  /** Releases what the target holds (a server, temp dirs). Idempotent. */
  close?(): Promise<void>;
}

/** One broken property, with what it takes to replay it. */
export interface FuzzFailureRecord {
  readonly target: string;
  readonly seed: number;
  readonly index: number;
  /** The seed of this one input: `new SeededRandom(inputSeed)` regenerates it. */
  readonly inputSeed: number;
  readonly message: string;
  readonly inputHex: string;
}

/** What a run did. */
export interface FuzzReport {
  readonly target: string;
  readonly seed: number;
  readonly inputs: number;
  readonly ms: number;
  /** The slowest single input, in ms: a hint of super-linear work long before it becomes a hang. */
  readonly slowestInputMs: number;
  readonly failures: FuzzFailureRecord[];
  readonly stats: Record<string, number | string>;
}

export interface RunFuzzOptions {
  /** Stop after this many failures (default 5): one bug usually fails many inputs. */
  maxFailures?: number;
  /** First input index (to resume a run that hung, see scripts/fuzz.ts); default the budget's `from`. */
  startIndex?: number;
  /** Called with the index of every input before it runs (a hang watchdog's heartbeat). */
  onInput?: (index: number) => void;
  /** An input slower than this is a failure (a hang in the making). Default 5000 ms. */
  slowInputMs?: number;
}

/**
 * Runs `target` on inputs derived from `budget.seed` until the time or the input budget is spent. Input
 * `i` always comes from `new SeededRandom(inputSeed(seed, i))`, whatever ran before it.
 */
export async function runFuzz(
  target: FuzzTarget,
  budget: FuzzBudget,
  options: RunFuzzOptions = {},
): Promise<FuzzReport> {
  const maxFailures = options.maxFailures ?? 5;
  const slowInputMs = options.slowInputMs ?? 5000;
  const concurrency = Math.max(1, target.concurrency ?? 1);
  const failures: FuzzFailureRecord[] = [];
  const started = performance.now();
  const deadline = started + budget.ms;
  let next = options.startIndex ?? budget.from ?? 0;
  const end = next + budget.runs;
  let inputs = 0;
  let slowest = 0;

  const record = (index: number, err: unknown): void => {
    const seed = inputSeed(budget.seed, index);
    failures.push({
      target: target.name,
      seed: budget.seed,
      index,
      inputSeed: seed,
      message: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      inputHex: err instanceof FuzzFailure ? err.input.toString('hex') : '',
    });
  };

  let lastYield = performance.now();
  const lane = async (): Promise<void> => {
    while (next < end && performance.now() < deadline && failures.length < maxFailures) {
      // A synchronous target never lets timers run on its own: yield now and then, so a watchdog's
      // heartbeat (scripts/fuzz.ts) keeps beating unless one input really is stuck.
      if (performance.now() - lastYield > 50) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      const index = next++;
      options.onInput?.(index);
      const t0 = performance.now();
      try {
        await target.one(new SeededRandom(inputSeed(budget.seed, index)), index);
      } catch (err) {
        record(index, err);
      }
      const took = performance.now() - t0;
      slowest = Math.max(slowest, took);
      if (took > slowInputMs) record(index, new FuzzFailure(`input took ${Math.round(took)} ms`));
      inputs++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => lane()));
  return {
    target: target.name,
    seed: budget.seed,
    inputs,
    ms: Math.round(performance.now() - started),
    slowestInputMs: Math.round(slowest),
    failures,
    stats: target.stats?.() ?? {},
  };
}

/**
 * The environment that replays input `index` of a run of `seed`: that input alone (FERRY_FUZZ_FROM; a target
 * whose inputs share state, a relay's server, starts it fresh), or the run up to it (FERRY_FUZZ_RUNS).
 */
export function replayOf(seed: number, index: number): string {
  return `FERRY_FUZZ_SEED=${seed} FERRY_FUZZ_FROM=${index} FERRY_FUZZ_RUNS=1, or FERRY_FUZZ_SEED=${seed} FERRY_FUZZ_RUNS=${index + 1}`;
}

/** A one-line summary of a report, with the replay hint when something failed. */
export function describeReport(report: FuzzReport): string {
  const head = `${report.target}: ${report.inputs} inputs in ${report.ms} ms (seed ${report.seed}), slowest ${report.slowestInputMs} ms`;
  if (report.failures.length === 0) return head;
  const lines = report.failures.map(
    (f) =>
      `  input ${f.index} (input seed ${f.inputSeed}; replay: ${replayOf(f.seed, f.index)}): ${f.message}` +
      (f.inputHex ? `\n    input ${f.inputHex.slice(0, 400)}${f.inputHex.length > 400 ? '...' : ''}` : ''),
  );
  return [head, ...lines].join('\n');
}
