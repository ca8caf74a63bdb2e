import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT_CODES } from '../errors/index.js';
import { registrarsFor, subcommandOf, type Registrar } from './command-modules.js';
import { reportError } from './report-error.js';
import { withCommandHints } from './command-hints.js';
import { usageErrorLine } from './usage-error-line.js';
import { writeNote } from './note-lines.js';
import type { GlobalOptions } from './cli-context.js';

/** package.json's version: a packed and installed ferry reports the version it was packed as. */
const FERRY_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/**
 * Builds the `ferry` command line with the subcommands of `registrars` (command-modules.ts: only the one
 * the command line names is loaded).
 */
export function buildProgram(registrars: readonly Registrar[]): Command {
  const program = new Command('ferry')
    .description('secure, verifiable, resumable file transfer')
    .version(FERRY_VERSION)
    .option('--home <dir>', 'home directory for keys and trust (default $FERRY_HOME or ~/.config/ferry)')
    .option('--debug', 'print stack traces on errors')
    // The list of commands says what each does, not where to begin: a first-time reader needs the order.
    .addHelpText(
      'after',
      [
        '',
        'First steps (README.md, "Quick start"):',
        '  on the server:  ferry serve --init --root DIR,',
        '                  then ferry invite --name NAME (prints a code)',
        '  on a client:    ferry keygen, then ferry pair HOST:PORT (asks for the code),',
        '                  then ferry send FILE HOST:PORT, ferry get HOST:PORT/FILE,',
        '                  ferry ls HOST:PORT',
        'A server started with --home DIR (npm start: ./.ferry-home) needs it on',
        'invite, allow and clients too.',
        '',
      ].join('\n'),
    )
    .enablePositionalOptions(false)
    .exitOverride()
    // Commander's own complaints (a missing argument, an unknown option) in ferry's one error format.
    .configureOutput({ writeErr: (s) => writeUsageError(usageErrorLine(s, 'ferry --help')) });
  for (const register of registrars) register(program);
  // The list of commands shows each one's arguments as its --help and the README write them (`send PATH...
  // HOST[:PORT][/REMOTE_PATH]`): commander's own term showed `send [options] <paths...>`, no server. Every
  // command takes options, so `[options]` is left to each --help, and a usage with alternatives gives its
  // first (sync's): the terms then leave the descriptions room to wrap within 80 columns.
  program.configureHelp({
    subcommandTerm: (command) =>
      [
        command.name(),
        command
          .usage()
          .replace(/^\[options\] ?/, '')
          .split(', or ')[0],
      ]
        .filter((part) => part !== '')
        .join(' '),
    minWidthToWrap: 30,
  });
  // `--home` and `--debug` also work after the subcommand name (`ferry id --home DIR`).
  for (const command of program.commands) {
    command
      .option('--home <dir>', 'home directory for keys and trust')
      .option('--debug', 'print stack traces on errors');
    command.exitOverride();
    pointToHelp(command, `ferry ${command.name()}`);
  }
  return program;
}

/** A usage error of `command` (and of its own subcommands, `ferry key prepare`) ends with its `--help`. */
function pointToHelp(command: Command, name: string): void {
  command.configureOutput({
    writeErr: (s) => writeUsageError(usageErrorLine(s, `${name} --help`, `${name} ${command.usage()}`)),
  });
  for (const sub of command.commands) pointToHelp(sub, `${name} ${sub.name()}`);
}

/** `ferry --version` alone needs no subcommand: loading them all (as for `--help`) would double its start-up. */
const VERSION_ONLY = new Set(['--version', '-V']);

async function main(argv: string[]): Promise<number> {
  const args = argv.slice(2);
  const versionOnly = args.length === 1 && VERSION_ONLY.has(args[0]!);
  const program = buildProgram(versionOnly ? [] : await registrarsFor(subcommandOf(args)));
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode === 0 ? 0 : EXIT_CODES.usage;
    }
    const debug = program.opts<GlobalOptions>().debug === true || argv.includes('--debug');
    const command = program.commands.find((c) => c.name() === subcommandOf(args));
    return reportError(withCommandHints(err, command), debug, command?.name());
  }
}

// `ferry ls | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
// Not a top-level await: the bundle bin/ferry runs is a CommonJS script (scripts/bundle-cli.mjs).
void main(process.argv).then((code) => {
  process.exitCode = code;
  // Exit once the loop has nothing left (beforeExit: every write, sync, rename, cache record and hand-off to
  // a child done; stdout and stderr are written synchronously here). Left to itself, Node then tears the
  // environment down and frees its heap page by page before the exit_group that frees it all at once:
  // strace of a 1 GiB delta send, PUT_DONE to exit_group 67-97 -> 34-51 ms. 'exit' listeners still run.
  process.once('beforeExit', () => process.exit());
});

/**
 * What commander writes to stderr: ferry's error line for a complaint (wrapped on a terminal as every error
 * line is, `writeNote`), anything else (a help text) as it is.
 */
function writeUsageError(text: string): void {
  if (text.startsWith('ferry: ')) writeNote(text.trimEnd());
  else process.stderr.write(text);
}
