import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { delimiter, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { spawnDaemon } from '../../scripts/cluster/daemon-process.js';

/** The CLI entry point; it runs the compiled `dist/`, so `npm run build` must have run. */
export const FERRY_BIN = fileURLToPath(new URL('../../bin/ferry', import.meta.url));

/**
 * A directory whose `ferry` is a link to bin/ferry: on the PATH of every child (ferryEnv), so that the CLI
 * names itself `ferry` in the commands it prints, as an installed one does (ferryCommand); a test of a fresh
 * clone's `./bin/ferry` passes a PATH of its own.
 */
const INSTALLED_FERRY_DIR = fileURLToPath(new URL('./installed-ferry', import.meta.url));

/** A safety deadline for one CLI run: a hung child is killed instead of outliving the test. */
const RUN_DEADLINE_MS = 60_000;

/** The outcome of one finished `ferry` process. */
export interface CliResult {
  /** The exit code, or null when the process died of a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options for {@link runFerry} and {@link startServe}. */
export interface CliOptions {
  /** Extra environment variables; the base is this process's environment without FERRY_HOME. */
  env?: Record<string, string>;
  cwd?: string;
  /**
   * Another `ferry` executable to run as it is (its shebang, its PATH lookup), e.g. one installed from the
   * packed tarball; by default the checkout's bin/ferry under this node.
   */
  bin?: string;
  /**
   * Run as a user whom file modes bind: root (CI containers, this machine) normally writes into a
   * read-only directory and reads a mode-000 file, so the child runs without CAP_DAC_OVERRIDE and
   * CAP_DAC_READ_SEARCH (`setpriv --bounding-set`); any other user is bound already.
   */
  heedModes?: boolean;
  /** Written to the child's stdin through a pipe, then closed (`--exclude-from -`); else it has none. */
  stdin?: string;
}

/**
 * The environment children run with: ours, this ferry first on the PATH (unless `extra` gives one), minus
 * FERRY_HOME (every test passes `--home` explicitly, so a developer's own home can never be touched) and
 * minus node:test's marker for its own children.
 */
export function ferryEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  // This node's directory next: bin/ferry run as a command execs the `node` on the PATH (its launcher).
  if (!('PATH' in extra))
    env['PATH'] = [INSTALLED_FERRY_DIR, dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter);
  if (!('FERRY_HOME' in extra)) delete env['FERRY_HOME'];
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

/**
 * Every `ferry` of a test (a server above all) dies with the test process, even one SIGKILLed past its
 * timeout before any `after` hook or deadline timer runs: spawned through `setpriv --pdeathsig KILL`
 * (scripts/cluster/daemon-process.ts), which execs it, so the ChildProcess is still ferry itself (its pid,
 * signals and exit code). ferry starts no process of its own, so no process group needs tying.
 */
function spawnChild(args: readonly string[], options: CliOptions): ChildProcess {
  // Never a shell, never our stdin: tests must not read a terminal (ECOSYSTEM.md, "Traps seen here"); a
  // test that gives `stdin` writes it through a pipe of its own.
  const [ferry, ferryArgs] =
    options.bin === undefined ? [process.execPath, [FERRY_BIN, ...args]] : [options.bin, [...args]];
  const [command, commandArgs] =
    options.heedModes && process.getuid?.() === 0
      ? ['setpriv', ['--bounding-set', '-dac_override,-dac_read_search', '--', ferry, ...ferryArgs]]
      : [ferry, ferryArgs];
  return spawnDaemon(command, commandArgs, {
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: ferryEnv(options.env),
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
}

/** Runs `ferry ARGS...` to completion and returns its exit code and output. */
export async function runFerry(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawnChild(args, options);
  if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const deadline = setTimeout(() => child.kill('SIGKILL'), RUN_DEADLINE_MS);
  try {
    // 'close' (not 'exit') so both pipes are drained before we return the output.
    const [code] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(deadline);
  }
}

/** A running `ferry serve` process. */
export interface ServeProcess {
  /** `host:port` it listens on, from its banner. */
  address: string;
  /** Its ferry ID, from its banner. */
  id: string;
  process: ChildProcess;
  /** Everything it wrote to stderr so far (its logs), for failure messages. */
  readonly stderr: string;
  /** Sends SIGTERM and waits for the process to exit. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Spawns `ferry serve ARGS... --listen 127.0.0.1:0` (no `--listen` added when ARGS has `--listen` or
 * `--config`) and resolves once its banner shows the bound address
 * (waits on the `listen:` line, never on a timer). Rejects, with the server's stderr, if it exits first.
 * The caller must `stop()` it (in `after`/`t.after`), also when this rejects it has already exited.
 */
export async function startServe(args: readonly string[], options: CliOptions = {}): Promise<ServeProcess> {
  // A `--config` file names its own address (and must, or the server takes the default port 7443).
  const ownListen = args.includes('--listen') || args.includes('--config');
  const fullArgs = ['serve', ...args, ...(ownListen ? [] : ['--listen', '127.0.0.1:0'])];
  const child = spawnChild(fullArgs, options);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = once(child, 'exit').then(() => undefined);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      // A server that ignores SIGTERM must still not outlive the test.
      const deadline = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        await exited;
      } finally {
        clearTimeout(deadline);
      }
    })();
    return stopping;
  };

  const lines = createInterface({ input: child.stdout! });
  try {
    const banner = await new Promise<{ address: string; id: string }>((resolve, reject) => {
      let id: string | undefined;
      lines.on('line', (line) => {
        const idMatch = /^\s*id:\s+(\S+)/.exec(line);
        if (idMatch) id = idMatch[1];
        const listenMatch = /^\s*listen:\s+(\S+)/.exec(line);
        if (listenMatch) {
          if (id === undefined) reject(new Error(`serve printed listen: before id:\n${line}`));
          else resolve({ address: listenMatch[1]!, id });
        }
      });
      void exited.then(() =>
        reject(new Error(`ferry serve exited (code ${child.exitCode}) before listening:\n${stderr}`)),
      );
    });
    // Keep draining stdout so the child can never block on a full pipe.
    child.stdout!.resume();
    return {
      ...banner,
      process: child,
      get stderr() {
        return stderr;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resolves once the server's log (stderr) has `count` lines matching `pattern`: waits on its output. */
export function serverLogged(serve: ServeProcess, pattern: RegExp, count = 1): Promise<void> {
  const seen = (): number => serve.stderr.split('\n').filter((line) => pattern.test(line)).length;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (seen() < count) return;
      serve.process.stderr!.off('data', check);
      serve.process.off('exit', exited);
      resolve();
    };
    const exited = (): void => reject(new Error(`server exited before logging ${pattern}:\n${serve.stderr}`));
    serve.process.stderr!.on('data', check);
    serve.process.once('exit', exited);
    check();
  });
}

/** A `ferry` process started with `spawnFerry`, for tests that kill it mid-run. */
export interface SpawnedFerry {
  process: ChildProcess;
  /** Resolves with the exit code (null after a signal) and stderr, once the process closed. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/**
 * Spawns `ferry ARGS` without stdin (ARGS carry --home) and returns at once, so a test can act on it while
 * it runs; it is killed at `deadlineMs` so it never outlives the test.
 */
export function spawnFerry(args: readonly string[], deadlineMs = RUN_DEADLINE_MS): SpawnedFerry {
  const child = spawnChild(args, {});
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout!.resume();
  const deadline = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) =>
      child.once('close', (code, signal) => {
        clearTimeout(deadline);
        resolve({ code, signal, stderr });
      }),
  );
  return { process: child, done };
}

/**
 * The objects of a `--json` output (README "JSON events": JSON lines, each led by `v`, 1), failing on a line
 * that is not an object or does not lead with `v`.
 */
export function jsonLinesOf<T = Record<string, unknown>>(stdout: string): T[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const parsed = JSON.parse(line) as unknown;
      assert.ok(
        typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed),
        `not a JSON object: ${line}`,
      );
      assert.equal(Object.keys(parsed)[0], 'v', `a --json line not led by v: ${line}`);
      assert.equal((parsed as { v: unknown }).v, 1, line);
      return parsed as T;
    });
}

/**
 * Fails unless a failed run's `--json` summary (its last line) says the error word for word as its stderr
 * line does (`ferry: CODE: message`, on a pipe one line), with `code`: hints added after the run once
 * reached the stderr line alone.
 */
export function assertSummaryIsTheErrorLine(result: CliResult, code: string): void {
  const summary = jsonLinesOf<{ type: string; code?: string; message?: string }>(result.stdout).at(-1);
  assert.equal(summary?.type, 'summary', result.stdout);
  assert.equal(summary.code, code, result.stdout);
  assert.equal(result.stderr, `ferry: ${summary.code}: ${summary.message}\n`);
}

/** Fails with the command's output when it did not exit with `code`. */
export function assertExit(result: CliResult, code: number, what: string): void {
  assert.equal(
    result.code,
    code,
    `${what}: expected exit ${code}, got ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
  );
}
