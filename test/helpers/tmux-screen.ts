import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ferryEnv } from './cli.js';

const run = promisify(execFile);

/** Whether tmux runs here: without it the tests that need a real terminal fail saying so, never skip. */
const HAS_TMUX = await run('tmux', ['-V']).then(
  () => true,
  () => false,
);

/** Single quotes for sh. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `argv` in a fresh tmux pane `columns` wide (tmux server `socket`), waits for it to exit, and returns
 * every non-empty line of the pane, its history included, after a first line `$ ferry` (as a prompt would
 * leave: tmux moves a screen cleared from its top-left corner into its history, where old bar rows would
 * seem to survive) and ending with `exit=CODE`. `join`: wrapped lines joined (capture-pane -J).
 */
export async function tmuxScreen(
  socket: string,
  argv: readonly string[],
  options: { columns: number; join?: boolean },
): Promise<string[]> {
  return (await tmuxPane(socket, argv, options)).screen();
}

/** A command running in a tmux pane: keys typed into its terminal, and its screen once it exits. */
export interface TmuxPane {
  /** Types `keys` into the pane, as tmux send-keys names them (`y`, `Enter`). */
  sendKeys(...keys: string[]): Promise<void>;
  /** Waits for the command to exit and returns the screen as {@link tmuxScreen} does; closes the pane. */
  screen(): Promise<string[]>;
}

/**
 * Starts `argv` in a fresh tmux pane, as {@link tmuxScreen} runs it, and returns at once: for a command that
 * asks on its terminal (the trust prompt), which the test answers with `sendKeys` while it runs.
 */
export async function tmuxPane(
  socket: string,
  argv: readonly string[],
  options: { columns: number; join?: boolean },
): Promise<TmuxPane> {
  if (!HAS_TMUX)
    throw new Error(
      'tmux is not installed: this test drives a real terminal through it (apt-get install tmux)',
    );
  const session = 'screen';
  const script = `echo '$ ferry'; ${argv.map(shellQuote).join(' ')}; echo "exit=$?"; tmux -L ${socket} wait-for -S ferry-done`;
  await run(
    'tmux',
    [
      ...['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-x', String(options.columns), '-y', '50'],
      ...[
        '-s',
        session,
        `sh -c ${shellQuote(script)}`,
        ';',
        'set-option',
        '-t',
        session,
        'remain-on-exit',
        'on',
        // The server outlives its last session (the caller's stopTmux ends it): by default it exits once the
        // pane before is killed, and a new-session racing that exit failed with "server exited unexpectedly"
        // (cli-terminal, once in a loaded full suite).
        ';',
        'set-option',
        '-g',
        'exit-empty',
        'off',
      ],
      // The environment of the CLI's other tests (a `ferry` on the PATH), which a new tmux server passes on.
    ],
    { env: ferryEnv() },
  );
  return {
    sendKeys: async (...keys) => {
      await run('tmux', ['-L', socket, 'send-keys', '-t', session, ...keys]);
    },
    screen: async () => {
      await run('tmux', ['-L', socket, 'wait-for', 'ferry-done'], { timeout: 60_000 });
      const capture = [
        '-L',
        socket,
        'capture-pane',
        '-p',
        ...(options.join ? ['-J'] : []),
        '-t',
        session,
        '-S',
        '-',
      ];
      const { stdout } = await run('tmux', capture);
      await run('tmux', ['-L', socket, 'kill-session', '-t', session]);
      return stdout.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('Pane is dead'));
    },
  };
}

/** Stops the tmux server `socket` (the tests' `after`); no error when none runs. */
export async function stopTmux(socket: string): Promise<void> {
  await run('tmux', ['-L', socket, 'kill-server']).catch(() => undefined);
}
