import type { Command } from 'commander';
import { readFile as readFd } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { isatty } from 'node:tty';
import { excludePatternsOfFile } from '../client-api.js';
import { FerryError } from '../errors/index.js';

/** The exclude flags as commander collects them: each may be given again. */
export interface ExcludeFlags {
  exclude?: string[];
  excludeFrom?: string[];
}

/** `--exclude-from -`: the patterns come from standard input, as rsync reads them. */
const STANDARD_INPUT = '-';

/** Where `--exclude-from -` reads: fd 0, unless a test gives its own. */
export interface PatternInput {
  /** True when fd 0 is a terminal: its patterns would be typed, and the trust prompt needs it. */
  isTerminal: boolean;
  /** All of it, to its end. */
  read: () => Promise<string>;
}

const standardInput: PatternInput = {
  get isTerminal() {
    return isatty(0);
  },
  // fd 0 itself, not /dev/stdin, which a socket on fd 0 cannot be opened as.
  read: () => promisify(readFd)(0, 'utf8'),
};

/** `--exclude PATTERN` and `--exclude-from FILE`, each repeatable, as rsync takes them. */
export function addExcludeFlags(command: Command): Command {
  // No default given to commander: its help would print `(default: [])` after each.
  const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
  return command
    .option(
      '--exclude <pattern>',
      'leave out the entries PATTERN matches (again for more): `*.log` a name at any depth, `/build` at the top only, `cache/` directories only, `**` crosses `/` (README "Excluding files")',
      collect,
    )
    .option(
      '--exclude-from <file>',
      'the patterns of FILE, one a line (# or ; starts a comment); - reads them from standard input (a pipe)',
      collect,
    );
}

/**
 * Every pattern of the flags: `--exclude-from` files' first, in order, then `--exclude`s. `recursive`: false
 * for a `send`/`get` without -r, where patterns would filter nothing (named files are always sent).
 */
export async function excludePatternsOf(
  flags: ExcludeFlags,
  recursive = true,
  input: PatternInput = standardInput,
): Promise<string[]> {
  const { exclude = [], excludeFrom = [] } = flags;
  if (!recursive && (exclude.length > 0 || excludeFrom.length > 0))
    throw new FerryError('USAGE_INVALID', '--exclude and --exclude-from filter trees', { hint: 'add -r' });
  const fromStandardInput = excludeFrom.filter((file) => file === STANDARD_INPUT).length;
  if (fromStandardInput > 1)
    throw new FerryError(
      'USAGE_INVALID',
      `--exclude-from - given ${fromStandardInput} times: standard input is read once`,
    );
  // Typed patterns would end only at Ctrl-D, with no prompt saying so, and the terminal is where ferry asks
  // whether to trust a new server: a terminal on fd 0 is refused, a pipe or a file is read.
  if (fromStandardInput > 0 && input.isTerminal)
    throw new FerryError(
      'USAGE_INVALID',
      "--exclude-from -: standard input is a terminal; pipe the patterns in (printf '*.log\\n' | ferry ... --exclude-from -) or name a file",
    );
  const fromFiles: string[] = [];
  for (const file of excludeFrom)
    fromFiles.push(
      ...excludePatternsOfFile(file === STANDARD_INPUT ? await input.read() : await readFile(file, 'utf8')),
    );
  return [...fromFiles, ...exclude];
}
