// End to end: every `ferry COMMAND --flag` README.md shows (in backticks, and in its sh code blocks) is a
// command of the real CLI taking that flag, as `ferry COMMAND --help` lists it (or the global options do). A
// new user copies these lines first: a flag renamed in the code and not in the README (`send -p`, now
// `--mkdir`) fails here instead of on their machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runFerry } from '../helpers/cli.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The README's command lines: inline code spans that run ferry, and the lines of its sh code blocks. */
function ferryLinesIn(markdown: string): string[] {
  const lines: string[] = [];
  for (const [, language, body] of markdown.matchAll(/```(\w*)\n([\s\S]*?)```/g))
    if (['', 'sh', 'bash', 'console'].includes(language!))
      lines.push(...body!.split('\n').map((line) => line.replace(/\s#.*$/, '')));
  // Spans only outside the code blocks: a block's fences would pair its backticks with the prose's.
  const prose = markdown.replace(/```[\s\S]*?```/g, '');
  for (const [, span] of prose.matchAll(/`([^`\n]+)`/g)) lines.push(span!);
  return lines.filter((line) => /\bferry /.test(line));
}

/** `ferry ARGS --help`, once per command. */
const helps = new Map<string, Promise<string>>();
function helpOf(command: string): Promise<string> {
  let help = helps.get(command);
  if (help === undefined) {
    help = runFerry([...command.split(' ').filter(Boolean), '--help']).then((result) =>
      result.code === 0 ? result.stdout : '',
    );
    helps.set(command, help);
  }
  return help;
}

/** Whether `help` lists `flag` as an option (`-r, --recursive`, `--home <dir>`). */
function lists(help: string, flag: string): boolean {
  return new RegExp(`^ +(?:-\\w, )?${flag}(?:[ ,]|$)`, 'm').test(help);
}

/** What in `lines` the CLI does not have: an unknown command, or a flag its command's help does not list. */
async function driftIn(lines: readonly string[]): Promise<string[]> {
  const global = await helpOf('');
  const drift: string[] = [];
  for (const line of lines) {
    // One span may show several commands: `ferry revoke ID`, `ferry clients [--json]`; `sudo -u ferry ferry`.
    for (const part of line.replace(/-u ferry /g, '').split(/ \/ |&&|;|\|/)) {
      const words = /(?:^|[\s(])(?:\.\/bin\/)?ferry((?:\s+--home\s+\S+)?)\s+([a-z][a-z-]*)(.*)$/.exec(part);
      if (!words) continue;
      let command = words[2]!;
      let rest = words[3]!;
      const help = await helpOf(command);
      const sub = /^\s+([a-z][a-z-]*)/.exec(rest);
      // A command with subcommands (`key prepare`): the flags are the subcommand's.
      if (sub && new RegExp(`^ +${sub[1]}\\b`, 'm').test(help.slice(help.indexOf('\nCommands:')))) {
        command = `${command} ${sub[1]}`;
        rest = rest.slice(sub[0].length);
      }
      if (!(await helpOf(command)).startsWith(`Usage: ferry ${command} `)) {
        drift.push(`no command \`ferry ${command}\`: ${line.trim()}`);
        continue;
      }
      for (const [, flag] of rest.matchAll(/(?<![\w-])(--?[a-zA-Z][\w-]*)/g))
        if (!lists(await helpOf(command), flag!) && !lists(global, flag!))
          drift.push(`\`ferry ${command}\` takes no ${flag}: ${line.trim()}`);
    }
  }
  return drift;
}

test('every ferry command and flag README.md shows is one `ferry COMMAND --help` lists', async () => {
  const lines = ferryLinesIn(README);
  assert.ok(lines.length > 50, `found only ${lines.length} command lines in README.md`);
  assert.deepEqual(await driftIn(lines), []);
});

test('the check finds a flag the command does not take and a command ferry does not have', async () => {
  const markdown = ['Run `ferry send -p a.txt host/` or', '```sh', 'ferry lst host   # list', '```'].join(
    '\n',
  );
  assert.deepEqual(await driftIn(ferryLinesIn(markdown)), [
    'no command `ferry lst`: ferry lst host',
    '`ferry send` takes no -p: ferry send -p a.txt host/',
  ]);
});
