// The matcher's roll to the next candidate over bytes in the weak checksum's WebAssembly memory
// (src/protocol/weak-roll-wasm.ts, issue 16) against its JavaScript loop over the same bytes elsewhere: the
// same ops, the same offsets rolled, the same blocks hashed, for random edits, block sizes whose roll takes
// a multiple of the byte out of b (not 64 KiB), signatures that grow between windows (the filter copied
// again), and two matchers taking turns on the one filter area.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { LEAF_BYTES } from '../../src/protocol/constants.js';
import { deltaSignatureOf } from '../../src/protocol/delta-signature.js';
import { DeltaMatcher, type DeltaOp } from '../../src/protocol/delta-matcher.js';
import {
  releaseWeakChecksumBuffer,
  simdWeakChecksumAvailable,
  takeWeakChecksumBuffer,
} from '../../src/protocol/simd-weak-checksum.js';
import { SeededRandom } from '../helpers/seeded-random.js';

interface Scanned {
  ops: DeltaOp[];
  rolled: number;
  simdRolled: number;
  hashed: number;
  summed: number;
}

/** The new file with a few random edits of the old: inserted, deleted and rewritten spans, a run of zeros. */
function edited(random: SeededRandom, old: Buffer): Buffer {
  let file = old;
  for (let n = 1 + random.int(0, 4 - 1); n > 0; n--) {
    const at = random.int(0, file.length + 1 - 1);
    const length = 1 + random.int(0, 3000 - 1);
    switch (random.int(0, 4 - 1)) {
      case 0:
        file = Buffer.concat([file.subarray(0, at), random.bytes(length), file.subarray(at)]);
        break;
      case 1:
        file = Buffer.concat([file.subarray(0, at), file.subarray(at + length)]);
        break;
      case 2:
        file = Buffer.concat([file.subarray(0, at), random.bytes(length), file.subarray(at + length)]);
        break;
      default:
        file = Buffer.concat([file.subarray(0, at), Buffer.alloc(length), file.subarray(at)]);
    }
  }
  return file;
}

/** Scans the file `holder` holds window by window with `matcher` (each window a view of `holder`). */
function scan(matcher: DeltaMatcher, holder: Buffer, fileLength: number, window: number): Scanned {
  const ops: DeltaOp[] = [];
  for (let from = 0; from < fileLength;) {
    const to = Math.min(fileLength, from + window);
    const end = Math.min(fileLength, to - 1 + matcher.blockBytes);
    const result = matcher.scan(holder.subarray(from, end), from, from, to, end === fileLength);
    ops.push(...result.ops);
    from = result.next;
  }
  return {
    ops,
    rolled: matcher.rolledOffsets,
    simdRolled: matcher.simdRolledOffsets,
    hashed: matcher.hashedBlocks,
    summed: matcher.summedBlocks,
  };
}

test('the WebAssembly roll finds what the JavaScript loop finds, offset for offset', () => {
  assert.ok(
    simdWeakChecksumAvailable(),
    'WebAssembly is not available in this runtime: the roll is untested',
  );
  for (let seed = 1; seed <= 40; seed++) {
    const random = new SeededRandom(seed * 104729);
    const blockBytes = [LEAF_BYTES, 4096, 1088, 8000][seed % 4]!;
    const old = random.bytes(blockBytes * (2 + random.int(0, 10 - 1)) + random.int(0, blockBytes - 1));
    const file = edited(random, old);
    const signature = deltaSignatureOf(old, blockBytes);
    const window = [blockBytes, 3 * blockBytes + 17, 1 << 20][seed % 3]!;
    const label = `seed ${seed}, blocks of ${blockBytes}, window ${window}, ${file.length} bytes`;
    const inWasm = takeWeakChecksumBuffer(file.length);
    try {
      file.copy(inWasm);
      const plain = Buffer.from(file);
      const js = scan(new DeltaMatcher(signature), plain, file.length, window);
      const simd = scan(new DeltaMatcher(signature), inWasm, file.length, window);
      assert.equal(js.simdRolled, 0, label);
      assert.ok(simd.simdRolled > 0 || simd.rolled < 16 * 4, `${label}: the WebAssembly roll was not used`);
      assert.deepEqual(simd.ops, js.ops, label);
      assert.equal(simd.rolled, js.rolled, label);
      assert.equal(simd.hashed, js.hashed, label);
      assert.equal(simd.summed, js.summed, label);
    } finally {
      releaseWeakChecksumBuffer(inWasm);
    }
  }
});

test('a signature that grows between windows, and two matchers in turn, roll with their own filters', () => {
  const random = new SeededRandom(31337);
  const old = random.bytes(24 * 4096);
  const other = random.bytes(24 * 4096);
  // The new file holds blocks of both old files, so each matcher finds only its own.
  const file = Buffer.concat([
    other.subarray(0, 5000),
    old.subarray(4096, 40000),
    other.subarray(9000, 30000),
    old,
  ]);
  const inWasm = takeWeakChecksumBuffer(file.length);
  try {
    file.copy(inWasm);
    const runs = (holder: Buffer): Scanned[] => {
      const mine = new DeltaMatcher(deltaSignatureOf(old, 4096), undefined, 0);
      const theirs = new DeltaMatcher(deltaSignatureOf(other, 4096));
      const found: [DeltaOp[], DeltaOp[]] = [[], []];
      // Windows of 8 KiB, the two matchers taking turns; `mine` learns 2 more blocks before each window.
      for (let from = 0, theirFrom = 0; from < file.length || theirFrom < file.length;) {
        if (from < file.length) {
          mine.extend(Math.min(24, mine.knownBlocks + 2));
          const to = Math.min(file.length, from + 8192);
          const end = Math.min(file.length, to - 1 + 4096);
          const result = mine.scan(holder.subarray(from, end), from, from, to, end === file.length);
          found[0].push(...result.ops);
          from = result.next;
        }
        if (theirFrom < file.length) {
          const to = Math.min(file.length, theirFrom + 8192);
          const end = Math.min(file.length, to - 1 + 4096);
          const result = theirs.scan(
            holder.subarray(theirFrom, end),
            theirFrom,
            theirFrom,
            to,
            end === file.length,
          );
          found[1].push(...result.ops);
          theirFrom = result.next;
        }
      }
      return [mine, theirs].map((matcher, i) => ({
        ops: found[i]!,
        rolled: matcher.rolledOffsets,
        simdRolled: matcher.simdRolledOffsets,
        hashed: matcher.hashedBlocks,
        summed: matcher.summedBlocks,
      }));
    };
    const js = runs(Buffer.from(file));
    const simd = runs(inWasm);
    for (const i of [0, 1]) {
      assert.ok(simd[i]!.simdRolled > 0, `matcher ${i}: the WebAssembly roll was not used`);
      assert.deepEqual(simd[i]!.ops, js[i]!.ops, `matcher ${i}`);
      assert.equal(simd[i]!.rolled, js[i]!.rolled, `matcher ${i}`);
      assert.ok(
        js[i]!.ops.some((op) => op.oldOffset >= 0),
        `matcher ${i} found blocks`,
      );
    }
  } finally {
    releaseWeakChecksumBuffer(inWasm);
  }
});
