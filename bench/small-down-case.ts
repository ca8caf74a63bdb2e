// Case `small-down` (issue 14, item 3, the download direction): the tree of the `small` case (1,000 files of
// 4 KiB by default) fetched from the server with `ferry get -r`, beside `scp -r` and `rsync -r` from the
// same server in the same run: the mirror of `small`, which sends the tree up. The server holds the tree under
// its root at dl/small (hard links to the source files), sshd reads the source itself.
import { join } from 'node:path';
import type { TimedResult } from './lib/timed-process.js';

/** What the case needs from the bench run: how to start each server around a client, and where things are. */
export interface SmallDownContext<S> {
  /** The source tree; the ferry server serves the same files at `dl/small` under its root. */
  smallDir: string;
  ferryListen: string;
  ferryArgs: readonly string[];
  sshCipher: string;
  /** Runs `client` against a fresh sshd and measures both sides. */
  withSshd(client: (port: number) => Promise<TimedResult>, what: string): Promise<S>;
  /** Runs `client` against a fresh `ferry serve` and measures both sides. */
  withFerry(client: (port: number) => Promise<TimedResult>, what: string): Promise<S>;
  sshOptions(): string[];
  rshCommand(port: number): string;
  runTimed(command: string, args: readonly string[]): Promise<TimedResult>;
  ferryClient(args: readonly string[]): Promise<TimedResult>;
  expectTree(dir: string, source: string, deep: boolean): Promise<void>;
}

/** One tool of the case, as run.ts's ToolRun without the bench argument. */
export interface SmallDownTool<S> {
  tool: string;
  note: string;
  run(dest: string): Promise<S>;
  verify(dest: string, deep: boolean): Promise<void>;
}

/** scp -r, rsync -r and ferry get -r, each fetching the tree into `dest/small`. */
export function smallDownTools<S>(ctx: SmallDownContext<S>): Array<SmallDownTool<S>> {
  const remote = `root@127.0.0.1:${ctx.smallDir}`;
  const verify = (dest: string, deep: boolean): Promise<void> =>
    ctx.expectTree(join(dest, 'small'), ctx.smallDir, deep);
  return [
    {
      tool: 'scp',
      note: `scp -r -c ${ctx.sshCipher} from the server`,
      run: (dest) =>
        ctx.withSshd(
          (port) =>
            ctx.runTimed('scp', ['-r', ...ctx.sshOptions(), '-P', String(port), remote, join(dest, 'small')]),
          'scp -r (download)',
        ),
      verify,
    },
    {
      tool: 'rsync',
      note: `rsync -r over ssh -c ${ctx.sshCipher} from the server`,
      run: (dest) =>
        ctx.withSshd(
          (port) =>
            ctx.runTimed('rsync', [
              '-r',
              '-e',
              ctx.rshCommand(port),
              `${remote}/`,
              `${join(dest, 'small')}/`,
            ]),
          'rsync -r (download)',
        ),
      verify,
    },
    {
      tool: 'ferry',
      note: `bin/ferry get -r ${ctx.ferryArgs.join(' ')} from dl/small`.replace(/ +/g, ' ').trim(),
      run: (dest) =>
        ctx.withFerry(
          () =>
            ctx.ferryClient([
              'get',
              '-r',
              '-q',
              '--mkdir',
              ...ctx.ferryArgs,
              `${ctx.ferryListen}/dl/small`,
              `${dest}/`,
            ]),
          'ferry get -r',
        ),
      verify,
    },
  ];
}
