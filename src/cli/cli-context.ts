import type { Command } from 'commander';
import { resolveHomeDir } from '../home/index.js';

/** Options every command accepts, before or after the subcommand name. */
export interface GlobalOptions {
  home?: string;
  debug?: boolean;
}

/**
 * The home directory for a command: `--home` (given before or after the subcommand), else `$FERRY_HOME`,
 * else the XDG config directory.
 */
export function homeOf(command: Command): string {
  const opts = command.optsWithGlobals<GlobalOptions>();
  return resolveHomeDir({ home: opts.home });
}
