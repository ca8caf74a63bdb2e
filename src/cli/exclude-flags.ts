import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { excludePatternsOfFile } from '../client-api.js';
import { FerryError } from '../errors/index.js';

/** The exclude flags as commander collects them: each may be given again. */
export interface ExcludeFlags {
  exclude?: string[];
  excludeFrom?: string[];
}

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
    .option('--exclude-from <file>', 'the patterns of FILE, one a line (# or ; starts a comment)', collect);
}

/**
 * Every pattern of the flags: `--exclude-from` files' first, in order, then `--exclude`s. `recursive`: false
 * for a `send`/`get` without -r, where patterns would filter nothing (named files are always sent).
 */
export async function excludePatternsOf(flags: ExcludeFlags, recursive = true): Promise<string[]> {
  const { exclude = [], excludeFrom = [] } = flags;
  if (!recursive && (exclude.length > 0 || excludeFrom.length > 0))
    throw new FerryError('USAGE_INVALID', '--exclude and --exclude-from filter trees: add -r');
  const fromFiles: string[] = [];
  for (const file of excludeFrom) fromFiles.push(...excludePatternsOfFile(await readFile(file, 'utf8')));
  return [...fromFiles, ...exclude];
}
