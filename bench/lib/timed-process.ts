// Runs one command to completion the way every benchmark measures a client (or a one-shot server): under
// GNU time for its CPU seconds (user + sys of the process and every descendant it waited for, as wait4(2)
// reports them), with a TreeSampler for the peak resident set of the whole tree, and a wall clock.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { killTree, track } from './child-registry.js';
import { TreeSampler } from './tree-sampler.js';

/** GNU time from Debian's `time` package; `bench/lib/ensure-tools.ts` installs it when missing. */
export const GNU_TIME = '/usr/bin/time';

/** Default deadline of one process: nothing a benchmark runs may hang the harness. */
const DEFAULT_DEADLINE_MS = 15 * 60_000;

/** What {@link startTimed} and {@link runTimed} take. */
export interface TimedOptions {
  /** A file to connect to stdin (else /dev/null). */
  stdinPath?: string;
  /** A file to write stdout to (created or truncated; else discarded). */
  stdoutPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The process tree is killed after this long (default 15 minutes). */
  deadlineMs?: number;
}

/** One finished process, measured. */
export interface TimedResult {
  /** Exit code, or null if it died of a signal (e.g. the deadline). */
  code: number | null;
  /** From spawn to exit, measured here. */
  wallMs: number;
  /** User + system CPU seconds of the process and its waited-for descendants (GNU time %U + %S). */
  cpuSeconds: number;
  /**
   * Sum of the peak resident sets (VmHWM) of the processes of the tree, sampled every 50 ms; at least the
   * largest single process's peak as GNU time reports it (%M), for trees that end before a sample.
   */
  peakRssBytes: number;
  /** How many processes the tree had (over its life, as sampled). */
  processCount: number;
  stderr: string;
  /** When the process was started, on `performance.now()`'s clock. */
  startedAt: number;
}

/** A command started by {@link startTimed}. */
export interface TimedProcess {
  pid: number;
  /** Resolves once the process exited and its numbers were collected. */
  result: Promise<TimedResult>;
}

let sequence = 0;
let timeFileDir = tmpdir();

/** Where GNU time's reports go from now on (a benchmark's own temp dir, so an interrupted run leaves nothing). */
export function setTimeFileDir(dir: string): void {
  timeFileDir = dir;
}

/** Starts `command ARGS...` under GNU time; await `.result` for its measurements. */
export function startTimed(
  command: string,
  args: readonly string[],
  options: TimedOptions = {},
): TimedProcess {
  const timeFile = join(timeFileDir, `ferry-bench-time-${process.pid}-${sequence++}`);
  const stdin = options.stdinPath !== undefined ? openSync(options.stdinPath, 'r') : 'ignore';
  const stdout = options.stdoutPath !== undefined ? openSync(options.stdoutPath, 'w') : 'ignore';
  const startedAt = performance.now();
  // detached: its own process group, so a terminal's Ctrl-C reaches the harness alone and it decides.
  const child = track(
    spawn(GNU_TIME, ['-f', '%U %S %M', '-o', timeFile, command, ...args], {
      stdio: [stdin, stdout, 'pipe'],
      env: options.env ?? process.env,
      detached: true,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    }),
  );
  if (typeof stdin === 'number') closeSync(stdin);
  if (typeof stdout === 'number') closeSync(stdout);
  const pid = child.pid!;
  const sampler = TreeSampler.start(pid, { exclude: [pid] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-65536)));
  const deadline = setTimeout(() => killTree(pid), options.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const result = (async (): Promise<TimedResult> => {
    try {
      const [code] = (await once(child, 'close')) as [number | null];
      const wallMs = performance.now() - startedAt;
      await sampler.stop();
      const report = await readFile(timeFile, 'utf8').catch(() => '');
      // On a signal GNU time writes "Command terminated by signal N" first; the numbers are on the last line.
      const numbers = report.trim().split('\n').pop()?.split(' ').map(Number) ?? [];
      const [user = NaN, sys = NaN, maxRssKib = 0] = numbers;
      return {
        code,
        wallMs,
        cpuSeconds: user + sys,
        // A process that lives less than one sampling interval is only seen by GNU time (%M: the largest
        // single process of the tree), so that is the floor.
        peakRssBytes: Math.max(sampler.peakRssBytes, maxRssKib * 1024),
        processCount: sampler.processCount,
        stderr,
        startedAt,
      };
    } finally {
      clearTimeout(deadline);
      await sampler.stop();
      await rm(timeFile, { force: true });
    }
  })();
  return { pid, result };
}

/** Runs `command ARGS...` to completion under GNU time and returns its measurements. */
export function runTimed(
  command: string,
  args: readonly string[],
  options: TimedOptions = {},
): Promise<TimedResult> {
  return startTimed(command, args, options).result;
}

/** Throws with the process's stderr unless it exited 0. */
export function expectSuccess(result: TimedResult, what: string): TimedResult {
  if (result.code !== 0)
    throw new Error(`${what} exited ${result.code}: ${result.stderr.trim().slice(-2000)}`);
  return result;
}
