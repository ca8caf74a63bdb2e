import { test } from 'node:test';
import assert from 'node:assert/strict';
import { excludePatternsOf, type PatternInput } from '../../src/cli/exclude-flags.js';
import { isFerryError } from '../../src/errors/index.js';

/** Standard input as `excludePatternsOf` sees it, counting its reads. */
function input(text: string, isTerminal: boolean): PatternInput & { reads: number } {
  const stdin = {
    isTerminal,
    reads: 0,
    read: () => {
      stdin.reads++;
      return Promise.resolve(text);
    },
  };
  return stdin;
}

test('excludePatternsOf reads `--exclude-from -` from standard input, in order with the files and before --exclude', async () => {
  const stdin = input('# comment\n*.log\n\ncache/\n', false);
  assert.deepEqual(await excludePatternsOf({ excludeFrom: ['-'], exclude: ['/build'] }, true, stdin), [
    '*.log',
    'cache/',
    '/build',
  ]);
  assert.equal(stdin.reads, 1);
});

test('excludePatternsOf refuses `--exclude-from -` when standard input is a terminal, without reading it', async () => {
  const stdin = input('*.log\n', true);
  await assert.rejects(
    excludePatternsOf({ excludeFrom: ['-'] }, true, stdin),
    (err) =>
      isFerryError(err, 'USAGE_INVALID') &&
      /--exclude-from -: standard input is a terminal; pipe the patterns in/.test(err.message),
  );
  assert.equal(stdin.reads, 0);
  // A terminal is no matter when no pattern comes from it.
  assert.deepEqual(await excludePatternsOf({ exclude: ['*.o'] }, true, stdin), ['*.o']);
});

test('excludePatternsOf refuses `--exclude-from -` twice: standard input is read once', async () => {
  const stdin = input('*.log\n', false);
  await assert.rejects(
    excludePatternsOf({ excludeFrom: ['-', '-'] }, true, stdin),
    (err) =>
      isFerryError(err, 'USAGE_INVALID') && /given 2 times: standard input is read once/.test(err.message),
  );
  assert.equal(stdin.reads, 0);
});
