/**
 * Checks of the old file's identity (an fstat, `SourceFile.assertUnchanged`) that a delta download asks after
 * its reads, shared: a check asked while one runs waits for the next one, which starts once the running one
 * is done, so after every read of the askers it covers (a check vouches for the reads finished before it
 * started, and one that started before an asker's read cannot). The scan's windows and the acceptance behind
 * them asked one each, about two per 4 MiB window (issue 16: ~80 ms of a cold 1 GiB download's main thread,
 * a BigIntStats each); the checks asked meanwhile now cost one.
 */
export class SharedIdentityCheck {
  readonly #check: () => Promise<boolean>;
  #running: Promise<boolean> | undefined;
  /** The check that starts once the running one is done, shared by every ask since that one started. */
  #next: Promise<boolean> | undefined;

  /** `check`: whether the identity is still the one opened, checked when called. */
  constructor(check: () => Promise<boolean>) {
    this.#check = check;
  }

  /** Whether the identity is still the one opened, by a check started after this call. */
  readonly ask = (): Promise<boolean> => {
    if (this.#next !== undefined) return this.#next;
    const running = this.#running;
    if (running === undefined) return this.#start();
    const next = running.then(() => {
      this.#next = undefined;
      return this.#start();
    });
    this.#next = next;
    return next;
  };

  #start(): Promise<boolean> {
    const check = this.#check().finally(() => {
      if (this.#running === check) this.#running = undefined;
    });
    this.#running = check;
    return check;
  }
}
