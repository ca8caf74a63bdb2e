import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NAMED_AS_A_TEMPORARY, leaveOutTemporaryNames } from '../../src/client/leave-out-temporary-names.js';
import { isFerryTemporaryName } from '../../src/transfer/index.js';

test('isFerryTemporaryName takes the names of the client temporaries and no others', () => {
  for (const name of [
    '.a.ferry-part',
    '.a.ferry-state',
    '.a.ferry-state.tmp',
    '.a.0011223344556677.ferry-link',
    `.${'f'.repeat(32)}.ferry-part`,
    '.ferry-batch-0123456789abcdef-12',
  ])
    assert.equal(isFerryTemporaryName(name), true, name);
  for (const name of [
    'a.ferry-part',
    '.ferry-part',
    '.a.ferry-part.bak',
    '.a.ferry-state.tmp2',
    '.ferry-batch-xyz-0',
    'batch-0123456789abcdef-0',
    '.ferry-batch-0123456789abcdef-',
  ])
    assert.equal(isFerryTemporaryName(name), false, name);
});

test('leaveOutTemporaryNames leaves out such a name and all below it, said once at its top', () => {
  const skipped: Array<[string, string]> = [];
  const kept = leaveOutTemporaryNames(
    [
      { path: 'a' },
      { path: 'd/.a.ferry-part' },
      { path: 'd/.x.ferry-state' },
      { path: 'd/.x.ferry-state/inner' },
      { path: 'd/.x.ferry-state/inner/deeper' },
      { path: 'd/ok' },
      { path: '.ferry/.a.ferry-part' },
      { path: 'D/.A.FERRY-PART' },
      { path: 'D/.a.ferry-ſtate' },
      { path: 'D/.FERRY-BATCH-0123456789ABCDEF-0' },
      { path: 'D/\uFF0Ea.ferry-part' },
      // Invalid paths are kept, for the validation that refuses the listing, never said as skipped.
      { path: '../.a.ferry-part' },
      { path: 'd/.a.ferry-part\x1b[2J' },
    ],
    (path, reason) => skipped.push([path, reason]),
  );
  assert.deepEqual(
    kept.map((e) => e.path),
    ['a', 'd/ok', '../.a.ferry-part', 'd/.a.ferry-part\x1b[2J'],
  );
  assert.deepEqual(skipped, [
    ['d/.a.ferry-part', NAMED_AS_A_TEMPORARY],
    ['d/.x.ferry-state', NAMED_AS_A_TEMPORARY],
    ['.ferry/.a.ferry-part', NAMED_AS_A_TEMPORARY],
    // In other letters: on a case-insensitive destination they are the temporaries of `D/a`.
    ['D/.A.FERRY-PART', NAMED_AS_A_TEMPORARY],
    ['D/.a.ferry-ſtate', NAMED_AS_A_TEMPORARY],
    ['D/.FERRY-BATCH-0123456789ABCDEF-0', NAMED_AS_A_TEMPORARY],
    // U+FF0E is `.` in NFKC, which foldedName takes: a name not starting with `.` is folded too.
    ['D/\uFF0Ea.ferry-part', NAMED_AS_A_TEMPORARY],
  ]);
});
