import type { Command } from 'commander';

/** Adds one group of subcommands (and their flags) to the `ferry` program. */
export type Registrar = (program: Command) => void;

/**
 * Each command group's module, loaded on demand: a `ferry send` need not load the server, the dashboard,
 * the pairing curve or the config schema (issue 14: every command pays its module loading before its
 * first byte; all of them together cost ~0.1 s and ~20 MiB per process on this machine).
 */
const GROUPS: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Registrar> }> = [
  {
    names: ['keygen', 'id', 'allow', 'revoke', 'clients', 'trust'],
    load: async () => (await import('./key-commands.js')).registerKeyCommands,
  },
  { names: ['key'], load: async () => (await import('./key-rotate-command.js')).registerKeyRotateCommand },
  { names: ['serve'], load: async () => (await import('./serve-command.js')).registerServeCommand },
  { names: ['send'], load: async () => (await import('./send-command.js')).registerSendCommand },
  { names: ['get'], load: async () => (await import('./get-command.js')).registerGetCommand },
  { names: ['sync'], load: async () => (await import('./sync-command.js')).registerSyncCommand },
  { names: ['ls'], load: async () => (await import('./ls-command.js')).registerLsCommand },
  { names: ['digest'], load: async () => (await import('./digest-command.js')).registerDigestCommand },
  {
    names: ['invite', 'invites'],
    load: async () => (await import('./invite-command.js')).registerInviteCommands,
  },
  { names: ['pair'], load: async () => (await import('./pair-command.js')).registerPairCommand },
];

/** The names of every subcommand, in registration order (test/cli/command-modules.test.ts checks them). */
export const COMMAND_NAMES: readonly string[] = GROUPS.flatMap((g) => g.names);

/**
 * The registrars a run needs: only the group of `command` when it names one, else all of them (no
 * subcommand, `--help`, a mistyped name: commander then lists or suggests every command).
 */
export async function registrarsFor(command: string | undefined): Promise<Registrar[]> {
  const group = GROUPS.find((g) => command !== undefined && g.names.includes(command));
  return Promise.all((group ? [group] : GROUPS).map((g) => g.load()));
}

/** Global options that take a value: the word after them is not the subcommand. */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--home']);

/** The subcommand named on the command line (`argv` without node and the script), if any. */
export function subcommandOf(argv: readonly string[]): string | undefined {
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k]!;
    if (arg === '--') return argv[k + 1];
    if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) {
      k++;
      continue;
    }
    if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}
