import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, isAbsolute, join, relative } from 'node:path';
import { shellWord } from './shell-word.js';

/**
 * How a user at this shell runs the ferry that is running (`script`, its bin/ferry), for the commands a
 * banner prints to be pasted: `ferry` when the `ferry` on `PATH` is this one; else its path, as
 * `./bin/ferry` when it is under `cwd`. `npm start` in a fresh checkout (no `ferry` installed) printed
 * `ferry --home DIR invite --name laptop`, and pasted, that said "ferry: command not found".
 */
export function ferryCommand(script: string | undefined, cwd: string, path: string | undefined): string {
  if (script === undefined) return 'ferry';
  const self = realOrNull(script);
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'ferry');
    if (!isExecutable(candidate)) continue;
    // The first `ferry` on the PATH is what the shell runs: this one, or another (an older install).
    if (self !== null && realOrNull(candidate) === self) return 'ferry';
    break;
  }
  const inside = relative(cwd, script);
  const local = inside !== '' && !inside.startsWith('..') && !isAbsolute(inside);
  return shellWord(local ? `./${inside}` : script);
}

function realOrNull(file: string): string | null {
  try {
    return realpathSync(file);
  } catch {
    return null;
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `--home` of the commands a banner prints beside `ferry` ({@link ferryCommand}), as a shell word: relative
 * to `cwd` when `ferry` is itself a path from `cwd` (`./bin/ferry`, which runs from that directory only) and
 * `home` is inside it, as README's quick start writes it (`./bin/ferry --home .ferry-home invite`); else the
 * whole path. `npm start`'s whole path ran its `allow` line 20 to 40 columns past an 80-column terminal.
 */
export function homeWord(home: string, ferry: string, cwd: string): string {
  const inside = relative(cwd, home);
  const local = ferry.startsWith('./') && inside !== '' && !inside.startsWith('..') && !isAbsolute(inside);
  return shellWord(local ? inside : home);
}
