import { stat } from 'node:fs/promises';

/**
 * A directory a running process keeps using by its path (a server's root, the home whose allow-list it
 * re-reads), by the identity it had when the start checked it and the way to it (stop 43): its device and
 * inode. The start refuses a place whose way others may write, but a mode loosened since (a `chmod` above
 * it) lets whoever may then write there rename it away and put another directory in its place, which the
 * process would use by the same path until its next start refused it (stop 44). `unmoved` is one stat, as
 * OpenSSH's StrictModes checks at each login.
 */
export class DirectoryIdentity {
  readonly #path: string;
  readonly #dev: number;
  readonly #ino: number;

  private constructor(path: string, dev: number, ino: number) {
    this.#path = path;
    this.#dev = dev;
    this.#ino = ino;
  }

  /** The identity `path` has now. */
  static async of(path: string): Promise<DirectoryIdentity> {
    const { dev, ino } = await stat(path);
    return new DirectoryIdentity(path, dev, ino);
  }

  /** Whether `path` still names the directory it named when this identity was taken. */
  async unmoved(): Promise<boolean> {
    const now = await stat(this.#path).catch(() => undefined);
    return now !== undefined && now.dev === this.#dev && now.ino === this.#ino;
  }
}
