import { randomInt } from 'node:crypto';

/** How much fuzzing one run may do: it stops at whichever of `ms` and `runs` comes first. */
export interface FuzzBudget {
  /** The run's seed: every input is derived from it and its index, so the same seed replays the same inputs. */
  readonly seed: number;
  /** Wall-clock budget in milliseconds. */
  readonly ms: number;
  /** Input budget. */
  readonly runs: number;
  /** The index of the first input: with `runs` 1, one input of a run replayed alone (its state fresh). */
  readonly from?: number;
}

function envInteger(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, got ${text}`);
  return value;
}

/**
 * The budget for one fuzz target: `FERRY_FUZZ_SEED`, `FERRY_FUZZ_MS`, `FERRY_FUZZ_RUNS` and `FERRY_FUZZ_FROM`
 * from the environment when set, else `defaults` (tiny, for `npm test`), a fresh random seed and input 0. The
 * seed is always reported, so any failure can be replayed with `FERRY_FUZZ_SEED=<seed>`, and one input alone
 * with `FERRY_FUZZ_FROM=<index> FERRY_FUZZ_RUNS=1` as well.
 */
export function fuzzBudget(defaults: { ms: number; runs: number }): FuzzBudget {
  return {
    seed: envInteger('FERRY_FUZZ_SEED') ?? randomInt(1, 2 ** 31),
    ms: envInteger('FERRY_FUZZ_MS') ?? defaults.ms,
    runs: envInteger('FERRY_FUZZ_RUNS') ?? defaults.runs,
    from: envInteger('FERRY_FUZZ_FROM') ?? 0,
  };
}

/**
 * The seed of input `index` of a run: a 32-bit mix (splitmix-style) of the run seed and the index, so inputs
 * are independent and any single one can be regenerated without replaying those before it.
 */
export function inputSeed(runSeed: number, index: number): number {
  let x = (runSeed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}
