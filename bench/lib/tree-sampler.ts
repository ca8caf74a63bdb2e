import { procStatusBytes, processTree } from './proc-stats.js';

/** How often the tree is walked; VmHWM is a high-water mark, so polling only risks missing short-lived processes. */
const DEFAULT_INTERVAL_MS = 50;

/** Options for {@link TreeSampler.start}. */
export interface TreeSamplerOptions {
  intervalMs?: number;
  /** PIDs whose memory is not the tool's (e.g. the `/usr/bin/time` wrapper at the root). */
  exclude?: readonly number[];
}

/**
 * Watches a process tree and remembers each process's peak resident set (VmHWM). The peak of a side is the
 * sum of its processes' peaks (scp + ssh, sshd + its per-connection children + sftp-server, ...): an upper
 * bound on what the side held at once, and exact for single-process tools like `ferry`.
 */
export class TreeSampler {
  readonly #root: number;
  readonly #exclude: Set<number>;
  readonly #peaks = new Map<number, number>();
  readonly #timer: NodeJS.Timeout;
  #sampling: Promise<void> = Promise.resolve();
  #stopped = false;
  #busy = false;

  private constructor(root: number, options: TreeSamplerOptions) {
    this.#root = root;
    this.#exclude = new Set(options.exclude ?? []);
    this.#timer = setInterval(() => this.#tick(), options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.#tick();
  }

  /** Starts sampling the tree rooted at `root` right away. */
  static start(root: number, options: TreeSamplerOptions = {}): TreeSampler {
    return new TreeSampler(root, options);
  }

  /** Takes one more sample now (e.g. just before reading the result while the processes are still alive). */
  async sample(): Promise<void> {
    await this.#sampling;
    this.#tick();
    await this.#sampling;
  }

  /** Sum over the processes seen of their peak resident set, in bytes. */
  get peakRssBytes(): number {
    let sum = 0;
    for (const [pid, peak] of this.#peaks) if (!this.#exclude.has(pid)) sum += peak;
    return sum;
  }

  /** How many distinct processes were seen in the tree. */
  get processCount(): number {
    return [...this.#peaks.keys()].filter((pid) => !this.#exclude.has(pid)).length;
  }

  /** Stops polling (idempotent) and waits for a sample in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#sampling;
  }

  #tick(): void {
    // One walk at a time: ticks that come while a walk is running are skipped rather than piled up.
    if (this.#stopped || this.#busy) return;
    this.#busy = true;
    this.#sampling = (async () => {
      try {
        for (const pid of await processTree(this.#root)) {
          const hwm = await procStatusBytes(pid, 'VmHWM');
          if (hwm !== undefined) this.#peaks.set(pid, Math.max(this.#peaks.get(pid) ?? 0, hwm));
        }
      } finally {
        this.#busy = false;
      }
    })();
  }
}
