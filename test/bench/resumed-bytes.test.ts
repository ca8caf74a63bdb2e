// The benches' one reader of how much a resumed run said it held (bench/lib/resumed-bytes.ts), against the
// CLI's own formatting of sizes: a size of each unit as the closing line writes it, and the --json event.
// The real CLI's line is read in test/e2e/cli-kept-on-stop.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes } from '../../src/errors/index.js';
import { resumedBytesOf } from '../../bench/lib/resumed-bytes.js';

/** A closing line as src/cli/progress-display.ts writes it for a resumed upload of `heldBytes`. */
function closingLine(heldBytes: number): string {
  return `a.bin -> a.bin (2.00 GiB, resumed from ${formatBytes(heldBytes)}) digest 3f2a9c01`;
}

test('resumedBytesOf reads each unit of the closing line as bytes, not its number alone', () => {
  const KIB = 1024;
  for (const heldBytes of [
    900, // 900 B
    448 * KIB, // 448 KiB
    512 * KIB ** 2, // 512 MiB: the half-GiB cut the benches make, read as 512 bytes before
    1.5 * KIB ** 2, // 1.50 MiB
    12.5 * KIB ** 3, // 12.5 GiB
    3 * KIB ** 4, // 3.00 TiB
    2 * KIB ** 5, // 2.00 PiB
  ])
    assert.equal(resumedBytesOf(closingLine(heldBytes)), heldBytes, closingLine(heldBytes));
});

test('resumedBytesOf is exact to three significant digits where the line rounds', () => {
  const heldBytes = 123_456_789; // 118 MiB
  const read = resumedBytesOf(closingLine(heldBytes))!;
  assert.equal(formatBytes(read), formatBytes(heldBytes));
  assert.ok(Math.abs(read - heldBytes) / heldBytes < 0.005, `${read}`);
});

test('resumedBytesOf reads the exact bytes of the --json event', () => {
  const event = JSON.stringify({ type: 'transfer-finished', size: 1 << 30, resumedBytes: 536_936_448 });
  assert.equal(resumedBytesOf(`${event}\n`), 536_936_448);
});

test('resumedBytesOf says nothing of a run that resumed nothing', () => {
  assert.equal(resumedBytesOf('a.bin -> a.bin (2.00 GiB, sent) digest 3f2a9c01\n'), undefined);
  assert.equal(resumedBytesOf(''), undefined);
});
