// End to end: rsync's and scp's flags that ferry's first pass left bare ("unknown option '-z'"), now refused
// before any connection with what ferry does instead (src/cli/familiar-flag-hint.ts): rsync's -P, --partial,
// -z, -a and -c on `send`/`get`, where scp's habits had the only hints; the parts of rsync -a (-p, -t, -l, -o)
// and its --delete-* spellings, --inplace and -i on `sync`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('ferry-e2e-familiar-rsync-');
});
after(() => removeTempDir(dir));

const ARCHIVE_SEND =
  '-r copies a tree; to mirror one with modes, mtimes and links, as rsync -a does: ferry sync SRC HOST/DST';
const KEPT_BY_SYNC = 'ferry sync always keeps modes, mtimes, links and empty directories, as rsync -a does';

for (const [args, option, hint] of [
  [
    ['send', '-P', 'f', '127.0.0.1/'],
    '-P',
    'the port goes in the address: HOST:PORT/PATH; partial files are always kept and progress shown (rsync -P): leave it out',
  ],
  [['get', '--partial', '127.0.0.1/f'], '--partial', 'ferry always keeps partial files: leave it out'],
  [['send', '-z', 'f', '127.0.0.1/'], '-z', 'ferry does not compress: leave out -z'],
  [['get', '--compress', '127.0.0.1/f'], '--compress', 'ferry does not compress: leave it out'],
  [['sync', '--compress', 'src', '127.0.0.1/m'], '--compress', 'ferry does not compress: leave it out'],
  [['send', '-avz', 'd', '127.0.0.1/'], '-avz', ARCHIVE_SEND],
  [
    ['get', '--archive', '127.0.0.1/d', '.'],
    '--archive',
    '-r copies a tree; to mirror one with modes, mtimes and links, as rsync -a does: ferry sync HOST/SRC DST',
  ],
  [['send', '-c', 'f', '127.0.0.1/'], '-c', 'ferry always verifies every file by its digest: leave out -c'],
  [
    ['send', '--dry-run', 'f', '127.0.0.1/'],
    '--dry-run',
    'only ferry sync has a dry run: ferry sync SRC HOST/DST -n',
  ],
  [['get', '--mkpath', '127.0.0.1/f', 'a/b/'], '--mkpath', '--mkdir creates missing local directories'],
  [
    ['sync', '-rlpt', 'src', '127.0.0.1/m'],
    '-rlpt',
    'ferry sync always mirrors the whole tree: leave out -r',
  ],
  [['sync', '-pt', 'src', '127.0.0.1/m'], '-pt', `${KEPT_BY_SYNC}: leave out -p`],
  [['sync', '--delete-after', 'src', '127.0.0.1/m'], '--delete-after', 'ferry sync has one --delete: use it'],
  [
    ['sync', '--inplace', 'src', '127.0.0.1/m'],
    '--inplace',
    'ferry sync writes a changed file beside the old one and renames it over, never in place: leave it out',
  ],
  [['sync', '-i', 'src', '127.0.0.1/m'], '-i', '-v prints a line for every file'],
] as const) {
  test(`\`ferry ${args.join(' ')}\` says what ferry does instead`, async () => {
    const result = await runFerry(['--home', dir, ...args], { cwd: dir });
    assertExit(result, 2, args.join(' '));
    assert.equal(
      result.stderr,
      `ferry: USAGE_INVALID: unknown option '${option}' (${hint}); see \`ferry ${args[0]} --help\`\n`,
    );
  });
}
