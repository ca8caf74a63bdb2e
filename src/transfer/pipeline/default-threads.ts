import { availableParallelism } from 'node:os';

/** The most threads the default picks: past 4, a pool's memory (a V8 isolate and ~1 MiB blocks per worker) grows for little. */
const MAX_DEFAULT_THREADS = 4;

/**
 * The default `--threads` (send, get, serve) on a machine with `cores` cores (issue 14: "what the machine has,
 * with a measured choice for small machines"). Below 4 cores, 1: the event loop alone. Measured on a 2-core
 * machine (README "Performance"): a pool of 2 made neither an upload nor a download of 1 GiB faster, since
 * both ends of a transfer and the pool's workers share the cores, and it costs 30-50 % more CPU per GiB on the
 * pooled side (hand-overs, more garbage collection) and 20 (sealing) to 45 (opening) MiB more peak RSS. Measured
 * again at stop 26 (bench/transfer-ab.ts, 256 MiB, interleaved, load 17-29): 2 threads on both ends took
 * 0.7-2.0 more CPU s/GiB per pooled side and a longer wall both ways (two runs of 3). From 4 cores on there are
 * cores to spare for the workers: one thread per core but the one the event loop keeps, at most 4.
 */
export function defaultThreadsFor(cores: number): number {
  if (!Number.isSafeInteger(cores) || cores < 4) return 1;
  return Math.min(cores - 1, MAX_DEFAULT_THREADS);
}

/** Threads hashing and sealing (sending) or opening and hashing (receiving) file data by default. */
export const DEFAULT_THREADS = defaultThreadsFor(availableParallelism());
