/**
 * How many blocks of a delta signature have arrived, and the waits for more (PROTOCOL.md §5.15.2 upload,
 * §5.17.2 download): a scan waits for the blocks it needs while the rest still arrives. Once failed, every
 * wait, present and future, fails with the same error.
 */
export class ArrivedBlocks {
  #blocks: number;
  #failed = false;
  #failure: unknown;
  readonly #waiting: Array<{
    blocks: number;
    resolve: (blocks: number) => void;
    reject: (err: unknown) => void;
  }> = [];

  constructor(blocks = 0) {
    this.#blocks = blocks;
  }

  /** Whether `fail` was called, and with what. */
  get failure(): { failed: boolean; error: unknown } {
    return { failed: this.#failed, error: this.#failure };
  }

  /** The records so far hold `blocks` blocks. */
  arrived(blocks: number): void {
    this.#blocks = blocks;
    this.#settle();
  }

  /** The receiving failed: every wait fails with `err`. */
  fail(err: unknown): void {
    this.#failed = true;
    this.#failure = err;
    this.#settle();
  }

  /** Resolves with the blocks arrived once at least `blocks` have. */
  waitFor(blocks: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ blocks, resolve, reject });
      this.#settle();
    });
  }

  #settle(): void {
    for (let i = 0; i < this.#waiting.length;) {
      const wait = this.#waiting[i]!;
      if (this.#failed) wait.reject(this.#failure);
      else if (this.#blocks >= wait.blocks) wait.resolve(this.#blocks);
      else {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
    }
  }
}
