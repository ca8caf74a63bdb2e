import {
  addTo,
  BLOCK,
  brIf,
  END,
  get,
  globalSet,
  I32,
  I32_ADD,
  I32_AND,
  I32_GE_U,
  I32_LOAD8_U,
  I32_MUL,
  I32_OR,
  I32_SHL,
  I32_SHR_U,
  I32_SUB,
  I32_XOR,
  i32Const,
  i32Load,
  IF,
  LOOP,
  LOOP_BACK_AND_END,
  set,
  tee,
  uleb,
  vector,
} from './wasm-binary.js';

/**
 * The roll of the weak checksum over byte offsets up to the first candidate (the per-byte loop of
 * `DeltaMatcher`'s `#rollToCandidate`, PROTOCOL.md §5.15), as a function of the weak checksum's WebAssembly
 * module (`simd-weak-checksum.ts`), over the module's memory: `roll(at, stop, a, b, outFactor, blockBytes)`
 * looks at `at`, `at + 1`, ... below `stop` (addresses), and at each, stops if the candidate filter's bit for
 * the checksum `a | b << 16` there is set, else rolls the byte at `at` out and the one at `at + blockBytes`
 * in; it returns the offset it stopped at (`stop` if none) and leaves the checksum there in global 0
 * (`a | b << 16`). A candidate has its bit set in two filters: FILTER_BITS bits at `filterAt`, one per value
 * of `filterIndex`, then as many for `secondFilterIndex`, as the matcher's `Uint32Array` holds them
 * (little-endian words).
 *
 * Why: a delta download's scan rolls over every byte of the old file's edited spans once its signature is
 * whole (issue 16: 3.2 million offsets for 3 MiB rewritten, at the end of a cold 1 GiB download's critical
 * path). The JavaScript loop ran at 20-40 ns an offset in a fresh process (V8 optimizes it only after a MiB or
 * two, and less well over shared memory), ~75 ms of that download's end; this runs at the speed of compiled
 * code from its first call.
 */
export function rollBody(filterAt: number): number[] {
  return [
    ...BLOCK,
    ...LOOP,
    ...get(AT),
    ...get(STOP),
    ...I32_GE_U,
    ...brIf(1),
    // bit = filterIndex(a | b << 16): (weak ^ weak >>> 12) & (FILTER_BITS − 1)
    ...get(A),
    ...get(B),
    ...i32Const(16),
    ...I32_SHL,
    ...I32_OR,
    ...tee(WEAK),
    ...get(WEAK),
    ...i32Const(12),
    ...I32_SHR_U,
    ...I32_XOR,
    ...i32Const(FILTER_BITS - 1),
    ...I32_AND,
    ...tee(BIT),
    // The filter's word bit >>> 5, then its bit bit & 31 (i32.shl takes its count mod 32): maybe a candidate.
    ...filterBit(filterAt),
    ...IF,
    // The second filter's bit too: a candidate (most of the first filter's hits are not).
    ...get(WEAK),
    ...i32Const(SECOND_FILTER_MULTIPLIER),
    ...I32_MUL,
    ...i32Const(32 - FILTER_INDEX_BITS),
    ...I32_SHR_U,
    ...tee(BIT),
    ...filterBit(filterAt + FILTER_BITS / 8),
    ...brIf(2),
    ...END,
    // a = (a − out + in) & 0xffff; b = (b − outFactor·out + a) & 0xffff (i32 wraps agree mod 2^16)
    ...get(AT),
    ...I32_LOAD8_U,
    ...set(OUT),
    ...get(A),
    ...get(OUT),
    ...I32_SUB,
    ...get(AT),
    ...get(BLOCK_BYTES),
    ...I32_ADD,
    ...I32_LOAD8_U,
    ...I32_ADD,
    ...i32Const(0xffff),
    ...I32_AND,
    ...set(A),
    ...get(B),
    ...get(OUT_FACTOR),
    ...get(OUT),
    ...I32_MUL,
    ...I32_SUB,
    ...get(A),
    ...I32_ADD,
    ...i32Const(0xffff),
    ...I32_AND,
    ...set(B),
    ...addTo(AT, 1),
    ...LOOP_BACK_AND_END,
    ...get(A),
    ...get(B),
    ...i32Const(16),
    ...I32_SHL,
    ...I32_OR,
    ...globalSet(0),
    ...get(AT),
    ...END,
  ];
}

/** The filter's bit for the index on the stack (also in local BIT), as an i32: nonzero if set. */
function filterBit(filterAt: number): number[] {
  return [
    ...i32Const(5),
    ...I32_SHR_U,
    ...i32Const(2),
    ...I32_SHL,
    ...i32Load(filterAt),
    ...i32Const(1),
    ...get(BIT),
    ...I32_SHL,
    ...I32_AND,
  ];
}

/** The roll's locals after its six parameters (at, stop, a, b, outFactor, blockBytes): weak, bit, out. */
export const ROLL_LOCALS = vector([[...uleb(3), I32]]);

/** The roll's type: six i32 parameters, one i32 result. */
export const ROLL_TYPE = [0x60, ...vector(Array.from({ length: 6 }, () => [I32])), ...vector([[I32]])];

const FILTER_INDEX_BITS = 20;

/**
 * Bits of each candidate filter (`DeltaMatcher`): one per value of `filterIndex` (and `secondFilterIndex`),
 * 2^20 (128 KiB), about 4 times the most blocks a signature has.
 */
export const FILTER_BITS = 2 ** FILTER_INDEX_BITS;

/** The weak checksum folded to FILTER_BITS: the filter's bit for it. */
export function filterIndex(weak: number): number {
  return (weak ^ (weak >>> 12)) & (FILTER_BITS - 1);
}

/** Knuth's multiplicative hash's multiplier (2^32 / φ), odd: the second filter's bits mix every bit of the checksum. */
const SECOND_FILTER_MULTIPLIER = 0x9e3779b1 | 0;

/**
 * The second filter's bit for a weak checksum, independent of `filterIndex`'s: the WebAssembly roll stops
 * only where both are set. With 16,384 blocks (a 1 GiB file's leaves) 1.6 % of a random file's offsets pass
 * the first filter and 0.03 % both, so the roll leaves for JavaScript (its Map of checksums) ~260 times a MiB,
 * not ~16,000 (issue 16: those calls were most of the first MiB's 16 ms in a fresh process).
 */
export function secondFilterIndex(weak: number): number {
  return Math.imul(weak, SECOND_FILTER_MULTIPLIER) >>> (32 - FILTER_INDEX_BITS);
}

const [AT, STOP, A, B, OUT_FACTOR, BLOCK_BYTES, WEAK, BIT, OUT] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
