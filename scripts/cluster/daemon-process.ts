// Daemons the tests and `npm run cluster` start (etcd, HAProxy, memcached, the Swift servers and their
// workers, ferry servers, and every `ferry` test/helpers/cli.ts starts) must die with the process that started them, even one killed with SIGKILL:
// scripts/run-tests.mjs and node's test runner kill a test file past its timeout, before its `after` hooks,
// and an 'exit' listener never runs then. Two ties, both kept by the kernel rather than by our code:
// `spawnDaemon` for a daemon itself, `tieProcessGroup` for the processes a daemon forks.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

let setprivFound: boolean | undefined;

/**
 * Whether util-linux's setpriv is here (Debian's util-linux is an essential package: it always is). Asked
 * once per process: test/helpers/cli.ts spawns every `ferry` of the e2e tests through it.
 */
export function setprivInstalled(): boolean {
  setprivFound ??= spawnSync('sh', ['-c', 'command -v setpriv'], { stdio: 'ignore' }).status === 0;
  return setprivFound;
}

/**
 * Spawns `command` through `setpriv --pdeathsig KILL`, which sets prctl(PR_SET_PDEATHSIG) and execs it: the
 * kernel sends it SIGKILL the moment the thread that spawned it ends (call this from the main thread, not
 * from a worker that may end first). The ChildProcess is the daemon itself: same pid, its own exit code and
 * events. Processes it forks are not tied (the setting is cleared on fork): see `tieProcessGroup`.
 */
export function spawnDaemon(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  if (!setprivInstalled())
    throw new Error('daemons are started through setpriv --pdeathsig: apt-get install -y util-linux');
  return spawn('setpriv', ['--pdeathsig', 'KILL', '--', command, ...args], options);
}

/**
 * Kills the process group `pgid` (a daemon spawned `detached`, with every process it forked) when this
 * process dies, however it dies: a sentinel `sh` blocks reading its stdin, a pipe whose only writer is this
 * process, and kills the group once the read ends, which the kernel makes happen when this process's
 * descriptors close. The sentinel is a group of its own, so a kill of this process's group spares it. Call
 * the returned release once the group is stopped, so that a later process given the same id is never hit.
 */
export function tieProcessGroup(pgid: number): () => void {
  const sentinel = spawn(
    'sh',
    ['-c', 'read line; kill -s KILL -- "$1" 2>/dev/null', 'sentinel', `-${pgid}`],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    },
  );
  // Never what keeps this process alive; its end is what the sentinel waits for.
  sentinel.unref();
  (sentinel.stdin as unknown as { unref(): void }).unref();
  return () => {
    if (sentinel.exitCode === null && sentinel.signalCode === null) sentinel.kill('SIGKILL');
  };
}
