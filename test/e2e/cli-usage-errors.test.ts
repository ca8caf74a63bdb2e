// End to end: a usage error commander finds (a missing argument, an unknown option or command, too many
// arguments) is ferry's one error line, exit 2, and says where the usage is. It named an argument the user
// never typed (`missing required argument 'sources'`) and nothing more, and a suggestion went on a second line;
// a missing argument now shows the command's arguments as the README writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertExit, runFerry } from '../helpers/cli.js';

const CASES: ReadonlyArray<[args: string[], line: string]> = [
  // The arguments as the README writes them, not `missing required argument 'sources'`.
  [
    ['get'],
    'ferry: USAGE_INVALID: missing arguments: ferry get [options] HOST[:PORT]/REMOTE_PATH... [LOCAL]; see `ferry get --help`',
  ],
  [
    ['send'],
    'ferry: USAGE_INVALID: missing arguments: ferry send [options] PATH... HOST[:PORT][/REMOTE_PATH]; see `ferry send --help`',
  ],
  [
    ['sync', 'tree'],
    'ferry: USAGE_INVALID: missing arguments: ferry sync [options] SRC HOST[:PORT]/DST, or HOST[:PORT]/SRC DST; see `ferry sync --help`',
  ],
  [['send', '--bogus', 'a', 'b'], "ferry: USAGE_INVALID: unknown option '--bogus'; see `ferry send --help`"],
  [
    ['send', 'a.txt'],
    'ferry: USAGE_INVALID: invalid usage: ferry send takes the files to send, then the server last: ferry send [-r] PATH... HOST[:PORT][/REMOTE_PATH]',
  ],
  [['digest'], 'ferry: USAGE_INVALID: invalid usage: name the files to digest: ferry digest FILE...'],
  [['sedn'], "ferry: USAGE_INVALID: unknown command 'sedn' (did you mean send?); see `ferry --help`"],
  [
    ['ls', 'a', 'b'],
    "ferry: USAGE_INVALID: too many arguments for 'ls'. Expected 1 argument but got 2; see `ferry ls --help`",
  ],
  [
    ['key', 'prepare'],
    "ferry: USAGE_INVALID: required option '--out <file>' not specified; see `ferry key prepare --help`",
  ],
];

for (const [args, line] of CASES)
  test(`ferry ${args.join(' ')}: one line naming the help to read, exit 2`, async () => {
    const result = await runFerry(args);
    assertExit(result, 2, args.join(' '));
    assert.equal(result.stderr, `${line}\n`);
    assert.equal(result.stdout, '');
  });
