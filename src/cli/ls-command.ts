import type { Command } from 'commander';
import { listFiles, type ListEntry, type SessionEvent } from '../client-api.js';
import { homeOf } from './cli-context.js';
import { escapeForTerminal } from './escape-for-terminal.js';
import { checkRemotePath, parseTarget } from './parse-target.js';
import { addClientFlags, connectOptionsOf, withInterrupt, type ClientFlags } from './client-options.js';
import { jsonLine } from './json-line.js';
import { formatBytes } from './progress-format.js';
import { withRemoteMissingHint } from './remote-missing-hint.js';

interface LsFlags extends ClientFlags {
  recursive?: boolean;
  json?: boolean;
  humanReadable?: boolean;
  namesOnly?: boolean;
}

/** `ferry ls HOST[:PORT][/REMOTE_DIR]`. */
export function registerLsCommand(program: Command): void {
  const command = program
    .command('ls')
    .usage('[options] HOST[:PORT][/REMOTE_DIR]')
    .description('list what the server holds (name, size, mtime)')
    .argument('<target>', 'HOST[:PORT][/REMOTE_DIR]')
    .option('-r, --recursive', 'list the whole tree')
    .option('-h, --human-readable', 'sizes as 1.5 MiB rather than bytes')
    .option('--json', 'one JSON object per entry, one per line')
    .option(
      '--names-only',
      'kinds, names and sizes without modes and mtimes (a server on an object store then skips a request per file)',
    )
    // `-h` is ls's habit for human sizes, so help is `--help` only here.
    .helpOption('--help', 'display help for command');
  addClientFlags(command).action(async (text: string, flags: LsFlags, cmd: Command) => {
    const target = parseTarget(text);
    // Refuse a bad path before the identity is loaded, like send and get do (listFiles checks it too).
    checkRemotePath(target);
    await withInterrupt(async (signal) => {
      const connect = await connectOptionsOf(flags, homeOf(cmd), target, signal);
      const listing = await listFiles({
        ...connect,
        remotePath: target.remotePath,
        recursive: flags.recursive ?? false,
        namesOnly: flags.namesOnly ?? false,
        onEvent: (event: SessionEvent): void => {
          if (event.type === 'retrying')
            process.stderr.write(
              `ferry: ${event.code}: retrying in ${(event.delayMs / 1000).toFixed(1)} s\n`,
            );
        },
      }).catch((err: unknown) => {
        throw withRemoteMissingHint(err);
      });
      const namesOnly = flags.namesOnly ?? false;
      for (const entry of listing.entries)
        process.stdout.write(
          flags.json
            ? jsonLine(shownOf(entry, namesOnly))
            : `${formatEntry(entry, { human: flags.humanReadable ?? false, namesOnly })}\n`,
        );
    });
  });
}

/** An entry as `--json` shows it: with `--names-only`, no mode or mtime (the server may have sent 0s). */
function shownOf(entry: ListEntry, namesOnly: boolean): Partial<ListEntry> {
  if (!namesOnly) return entry;
  const { mode: _mode, mtimeMs: _mtimeMs, ...rest } = entry;
  return rest;
}

/**
 * One `ls -l`-like line; the names come from the server, so they are escaped for the terminal. With
 * `namesOnly` the kind, size and name alone: the mode and mtime were not asked for.
 */
function formatEntry(entry: ListEntry, how: { human: boolean; namesOnly: boolean }): string {
  const { human, namesOnly } = how;
  const kind = entry.kind === 'dir' ? 'd' : entry.kind === 'link' ? 'l' : '-';
  // The server's mtime may lie past what a Date holds (8.64e15 ms: a far-future file on btrfs, a hostile
  // server): shown as unknown in its column (`--json` gives the number), never an error for the listing.
  const date = new Date(entry.mtimeMs);
  const when = Number.isNaN(date.getTime()) ? '????-??-?? ??:??' : localMinute(date);
  const path = escapeForTerminal(entry.path);
  const name =
    entry.kind === 'dir'
      ? `${path}/`
      : entry.kind === 'link'
        ? `${path} -> ${escapeForTerminal(entry.linkTarget)}`
        : path;
  const size = human ? formatBytes(entry.size) : String(entry.size);
  if (namesOnly) return `${kind} ${size.padStart(12)} ${name}`;
  const mode = kind + rwx(entry.mode >> 6) + rwx(entry.mode >> 3) + rwx(entry.mode);
  return `${mode} ${size.padStart(12)} ${when} ${name}`;
}

/**
 * `YYYY-MM-DD HH:MM` in this machine's time zone, as `ls -l` and `rsync --list-only` show times: in UTC,
 * unsaid, a file sent a minute ago read as hours old (or ahead) east or west of Greenwich.
 */
function localMinute(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

function rwx(bits: number): string {
  return (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (bits & 1 ? 'x' : '-');
}
