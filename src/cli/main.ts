import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT_CODES } from '../errors/index.js';
import { registerKeyCommands } from './key-commands.js';
import { registerKeyRotateCommand } from './key-rotate-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerSendCommand } from './send-command.js';
import { registerDigestCommand } from './digest-command.js';
import { registerGetCommand } from './get-command.js';
import { registerSyncCommand } from './sync-command.js';
import { registerLsCommand } from './ls-command.js';
import { registerInviteCommands } from './invite-command.js';
import { registerPairCommand } from './pair-command.js';
import { reportError } from './report-error.js';
import type { GlobalOptions } from './cli-context.js';

/** package.json's version: a packed and installed ferry reports the version it was packed as. */
const FERRY_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Builds the `ferry` command line. Exported so tests can inspect it without spawning. */
export function buildProgram(): Command {
  const program = new Command('ferry')
    .description('secure, verifiable, resumable file transfer')
    .version(FERRY_VERSION)
    .option('--home <dir>', 'home directory for keys and trust (default $FERRY_HOME or ~/.config/ferry)')
    .option('--debug', 'print stack traces on errors')
    .enablePositionalOptions(false)
    .exitOverride()
    // Commander's own complaints (a missing argument, an unknown option) in ferry's one error format.
    .configureOutput({
      writeErr: (s) => process.stderr.write(s.replace(/^error: /, 'ferry: USAGE_INVALID: ')),
    });
  registerKeyCommands(program);
  registerKeyRotateCommand(program);
  registerServeCommand(program);
  registerSendCommand(program);
  registerGetCommand(program);
  registerSyncCommand(program);
  registerLsCommand(program);
  registerDigestCommand(program);
  registerInviteCommands(program);
  registerPairCommand(program);
  // `--home` and `--debug` also work after the subcommand name (`ferry id --home DIR`).
  for (const command of program.commands) {
    command
      .option('--home <dir>', 'home directory for keys and trust')
      .option('--debug', 'print stack traces on errors');
    command.exitOverride();
  }
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode === 0 ? 0 : EXIT_CODES.usage;
    }
    const debug = program.opts<GlobalOptions>().debug === true || argv.includes('--debug');
    return reportError(err, debug);
  }
}

// `ferry ls | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
process.exitCode = await main(process.argv);
