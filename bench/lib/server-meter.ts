// Measures what a long-running server process (`ferry serve`, a dedicated `sshd -D`) spent on one case:
// the CPU it and its children used between start() and finish(), and the peak memory of its tree.
import { setTimeout as sleep } from 'node:timers/promises';
import { childPids, readProcCpu } from './proc-stats.js';
import { TreeSampler } from './tree-sampler.js';

const POLL_MS = 50;
/** finish() waits at most this long for per-connection children to exit and the server to go idle. */
const SETTLE_DEADLINE_MS = 5_000;

/** What a server spent on one case. */
export interface ServerUsage {
  /**
   * User + system CPU seconds of the server process since start(), plus those of every child it started and
   * waited for in that time (cutime/cstime: sshd's per-connection processes, the scp/sftp-server/rsync they
   * ran). Children still running at the deadline are not counted (see `childrenLeft`).
   */
  cpuSeconds: number;
  /** Sum of the peak resident sets (VmHWM) of the server and every child seen while measuring. */
  peakRssBytes: number;
  /** Children still alive when finish() gave up waiting (0 normally). */
  childrenLeft: number;
}

async function totalCpu(pid: number): Promise<number> {
  const cpu = await readProcCpu(pid);
  if (!cpu) throw new Error(`server process ${pid} is gone`);
  return cpu.selfSeconds + cpu.reapedChildrenSeconds;
}

/** A measurement in progress; see {@link ServerMeter.start}. */
export class ServerMeter {
  readonly #pid: number;
  readonly #baseCpu: number;
  readonly #sampler: TreeSampler;

  private constructor(pid: number, baseCpu: number) {
    this.#pid = pid;
    this.#baseCpu = baseCpu;
    this.#sampler = TreeSampler.start(pid);
  }

  /** Starts measuring the server `pid` (call it while the server is idle, just before the client starts). */
  static async start(pid: number): Promise<ServerMeter> {
    return new ServerMeter(pid, await totalCpu(pid));
  }

  /**
   * Call once the client has exited: waits until the server has no children left (each connection's
   * processes exited and were reaped, so their CPU is in cutime/cstime) and its CPU time stops moving
   * (two reads 50 ms apart agree, i.e. it finished the case's work), then returns the usage.
   */
  async finish(): Promise<ServerUsage> {
    const deadline = Date.now() + SETTLE_DEADLINE_MS;
    await this.#sampler.sample();
    let children = await childPids(this.#pid);
    while (children.length > 0 && Date.now() < deadline) {
      await this.#sampler.sample();
      await sleep(POLL_MS);
      children = await childPids(this.#pid);
    }
    let cpu = await totalCpu(this.#pid);
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      const again = await totalCpu(this.#pid);
      if (again === cpu) break;
      cpu = again;
    }
    await this.#sampler.sample();
    await this.stop();
    return {
      cpuSeconds: cpu - this.#baseCpu,
      peakRssBytes: this.#sampler.peakRssBytes,
      childrenLeft: children.length,
    };
  }

  /** Stops sampling without a result (the case failed). Idempotent; finish() calls it too. */
  async stop(): Promise<void> {
    await this.#sampler.stop();
  }
}
