import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';

// The log flags without the logger: a client that logs nothing (its default) never loads pino (issue 14:
// ~20 ms of CPU of every `send` and `get` before it could connect). logger.ts builds the logger itself.

/** Levels `--log-level` accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `--log-level` and `--log-file`, as every command that logs has them. */
export interface LogFlags {
  logLevel?: string;
  logFile?: string;
}

/** Adds `--log-level` and `--log-file` to `command`; `defaultLevel` documents what applies without them. */
export function addLogFlags(command: Command, defaultLevel: string): Command {
  return command
    .option('--log-level <level>', `${LOG_LEVELS.join(', ')} (default ${defaultLevel})`)
    .option('--log-file <path>', 'append JSON log lines to this file instead of stderr');
}

/**
 * The level `flags` ask for: `--log-level`, else `fileDefaultLevel` with `--log-file`, else `defaultLevel`;
 * USAGE_INVALID for a level that is not one of LOG_LEVELS.
 */
export function logLevelOf(
  flags: LogFlags,
  options: { defaultLevel: string; fileDefaultLevel?: string },
): string {
  const fallback =
    flags.logFile !== undefined ? (options.fileDefaultLevel ?? options.defaultLevel) : options.defaultLevel;
  const level = flags.logLevel ?? fallback;
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new FerryError(
      'USAGE_INVALID',
      `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${level}`,
    );
  return level;
}
