import type { Command } from 'commander';
import { listFiles, type ListEntry, type SessionEvent } from '../client-api.js';
import { parseRemotePath } from '../protocol/index.js';
import { homeOf } from './cli-context.js';
import { escapeForTerminal, jsonForTerminal } from './escape-for-terminal.js';
import { parseTarget } from './parse-target.js';
import { addClientFlags, connectOptionsOf, withInterrupt, type ClientFlags } from './client-options.js';
import { JSON_EVENTS_VERSION } from './json-events.js';
import { formatBytes } from './progress-format.js';

interface LsFlags extends ClientFlags {
  recursive?: boolean;
  json?: boolean;
  humanReadable?: boolean;
}

/** `ferry ls HOST[:PORT][/REMOTE_DIR]`. */
export function registerLsCommand(program: Command): void {
  const command = program
    .command('ls')
    .description('list what the server holds (name, size, mtime)')
    .argument('<target>', 'HOST[:PORT][/REMOTE_DIR]')
    .option('-r, --recursive', 'list the whole tree')
    .option('-h, --human-readable', 'sizes as 1.5 MiB rather than bytes')
    .option('--json', 'one JSON object per entry, one per line')
    // `-h` is ls's habit for human sizes, so help is `--help` only here.
    .helpOption('--help', 'display help for command');
  addClientFlags(command).action(async (text: string, flags: LsFlags, cmd: Command) => {
    const target = parseTarget(text);
    // Refuse a bad path before the identity is loaded, like send and get do (listFiles checks it too).
    if (target.remotePath !== '') parseRemotePath(target.remotePath);
    await withInterrupt(async (signal) => {
      const connect = await connectOptionsOf(flags, homeOf(cmd), target, signal);
      const listing = await listFiles({
        ...connect,
        remotePath: target.remotePath,
        recursive: flags.recursive ?? false,
        onEvent: (event: SessionEvent): void => {
          if (event.type === 'retrying')
            process.stderr.write(
              `ferry: ${event.code}: retrying in ${(event.delayMs / 1000).toFixed(1)} s\n`,
            );
        },
      });
      for (const entry of listing.entries)
        process.stdout.write(
          flags.json
            ? `${jsonForTerminal({ v: JSON_EVENTS_VERSION, ...entry })}\n`
            : `${formatEntry(entry, flags.humanReadable ?? false)}\n`,
        );
    });
  });
}

/** One `ls -l`-like line; the names come from the server, so they are escaped for the terminal. */
function formatEntry(entry: ListEntry, human: boolean): string {
  const kind = entry.kind === 'dir' ? 'd' : entry.kind === 'link' ? 'l' : '-';
  const mode = kind + rwx(entry.mode >> 6) + rwx(entry.mode >> 3) + rwx(entry.mode);
  const when = new Date(entry.mtimeMs).toISOString().slice(0, 16).replace('T', ' ');
  const path = escapeForTerminal(entry.path);
  const name =
    entry.kind === 'dir'
      ? `${path}/`
      : entry.kind === 'link'
        ? `${path} -> ${escapeForTerminal(entry.linkTarget)}`
        : path;
  const size = human ? formatBytes(entry.size) : String(entry.size);
  return `${mode} ${size.padStart(12)} ${when} ${name}`;
}

function rwx(bits: number): string {
  return (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (bits & 1 ? 'x' : '-');
}
