import { Buffer } from 'node:buffer';
import {
  addTo,
  BLOCK,
  brIf,
  END,
  get,
  I16X8_ADD,
  I16X8_EXTADD_PAIRWISE_I8X16_U,
  I16X8_MUL,
  I32,
  I32_ADD,
  I32_AND,
  I32_GE_U,
  I32_GT_U,
  I32_LOAD8_U,
  I32_OR,
  I32_SHL,
  i32Const,
  I32X4_EXTADD_PAIRWISE_I16X8_U,
  i32x4ExtractLane,
  lanes16,
  LOOP,
  LOOP_BACK_AND_END,
  name,
  section,
  set,
  tee,
  uleb,
  V128,
  V128_AND,
  V128_LOAD,
  vector,
} from './wasm-binary.js';
import { FILTER_BITS, ROLL_LOCALS, ROLL_TYPE, rollBody } from './weak-roll-wasm.js';

/**
 * rsync's weak checksum (`rolling-checksum.ts`, PROTOCOL.md §5.15) with WebAssembly's 128-bit SIMD, 16 bytes
 * a step: the signing of a delta (every leaf of a file, both directions) spent about as long on the weak
 * checksum in JavaScript as on the leaf's SHA-256 (issue 16, server profile of a 1 GiB delta download:
 * 0.98 s against 1.22 s). Measured on this machine over 1 GiB of 64 KiB windows: 0.42-0.56 s for the
 * JavaScript word loop, 0.10-0.20 s here (0.04-0.06 s of it the copy into the module's memory).
 *
 * The module is assembled below from named instructions (the WebAssembly 2.0 binary format, with the SIMD
 * opcodes of its §5.4.8), so what it does is read here rather than in an opaque blob; it is checked against
 * the textbook definition in test/protocol/rolling-checksum.test.ts. It reads nothing but its memory (which
 * it imports, so other threads instantiate it over the same memory: `weakChecksumModule`): a window read into
 * it (`takeWeakChecksumBuffer`, the signing's read buffers) is summed in place; any other is copied into it
 * with Node's one memcpy (`Buffer#fill` with a value of the range's length): the windows mostly live in
 * shared memory (the scans' read buffers), and V8's `TypedArray#set` copies out of a SharedArrayBuffer
 * element by element with relaxed atomic loads: 0.28 CPU s per GiB of 64 KiB leaves against 0.08 (the
 * checksum included) this way (issue 16).
 *
 * The arithmetic: over 16-byte steps k = 0..K−1 of a window of n = 16K bytes, with p_m the sum of the step's
 * bytes 2m and 2m+1 and e_m its byte 2m (m = 0..7), a = Σ_k Σ_m p_m and b = Σ (n − i)·x_i =
 * 16·Σ_k (K−1−k)·S_k + Σ_m (15 − 2m)·P_m + Σ_m E_m, where S_k is step k's sum and P_m, E_m sum p_m, e_m over
 * the steps. The loop keeps P (`sums`), E (`evens`) and Σ_k (K−1−k)·S_k per lane (`earlier`: before each step,
 * it gains every step so far) in sixteen-bit lanes. Only a mod 2^16 and b mod 2^16 are wanted, and every one
 * of these is a sum of integer multiples of the bytes, so lanes that wrap at 2^16 give the same result. The
 * last n mod 16 bytes are added one at a time, as the textbook loop does (a += x; b += a).
 */

/**
 * The module's memory, shared (its `buffer` is a SharedArrayBuffer, so the leaf hash thread reads it in place
 * too): first the copy area, 2 pages (128 KiB), into which a window held elsewhere is copied, in pieces of
 * that size joined; then the roll's candidate filters, 4 pages (`simdRoll`: those of the matcher that
 * rolled last on this thread); then, added as they are first taken, at most MAX_SLABS slabs of SLAB_PAGES pages (4 MiB
 * and 192 KiB each: a signing's read buffer, 64 leaves of 4 + 64 KiB (`sign-leaves.ts`), or a scan's of
 * 4 MiB + 2 leaves), lent to readers whose windows are then summed where they are, with no copy (issue 16:
 * 16384 leaves of 64 KiB took 0.076-0.088 CPU s copied, 0.043-0.057 in place). A WebAssembly memory never shrinks, so the slabs are reused:
 * at most 384 KiB + 4 × 4.19 MiB (17.1 MiB) per process, touched only as far as slabs were lent at once; a
 * buffer asked for beyond that (or larger than a slab, or with no WebAssembly) is a plain SharedArrayBuffer,
 * whose windows are copied.
 */
const COPY_PAGES = 2;
const PIECE_BYTES = COPY_PAGES * 65536;
/** The candidate filters' address and pages (twice FILTER_BITS bits), right after the copy area. */
const FILTER_AT = PIECE_BYTES;
const FILTER_PAGES = (2 * FILTER_BITS) / 8 / 65536;
/** Pages before the first slab. */
const FIXED_PAGES = COPY_PAGES + FILTER_PAGES;
const SLAB_PAGES = 67;
const SLAB_BYTES = SLAB_PAGES * 65536;
const MAX_SLABS = 4;
const MAX_PAGES = FIXED_PAGES + MAX_SLABS * SLAB_PAGES;

/** The exported function, `(start, end) → checksum` over the memory it imports, and that memory. */
interface Module {
  readonly checksum: (start: number, end: number) => number;
  /** `weak-roll-wasm.ts`: `(at, stop, a, b, outFactor, blockBytes) → where it stopped`, the checksum there in `weak`. */
  readonly roll: (
    at: number,
    stop: number,
    a: number,
    b: number,
    outFactor: number,
    blockBytes: number,
  ) => number;
  readonly weak: { readonly value: number };
  /** The filter area, as the matchers' filters are (`Uint32Array` words), and whose filter it holds now. */
  readonly filter: Uint32Array;
  filterOf: { readonly filter: Uint32Array; readonly version: number } | undefined;
  /** The compiled module, for another thread to instantiate over the same memory (`weakChecksumModule`). */
  readonly compiled: object;
  readonly memory: { readonly buffer: ArrayBufferLike; grow(pages: number): number };
  readonly memoryBuffer: Buffer;
  /** The memory's buffers (one more at each growth, all views of the same memory from address 0). */
  readonly views: Set<ArrayBufferLike>;
  /** Addresses of the slabs not lent now, and how many slabs there are. */
  readonly freeSlabs: number[];
  slabs: number;
}

let loaded: Module | null | undefined;

/**
 * The weak checksum of `bytes[start, end)` (as `weakChecksum`), or undefined when this runtime cannot run
 * the SIMD module (no WebAssembly, or it is switched off): the caller's JavaScript loop answers instead.
 * Bytes in the module's memory (`takeWeakChecksumBuffer`) are summed where they are; others are copied first.
 */
export function simdWeakChecksum(bytes: Uint8Array, start: number, end: number): number | undefined {
  const simd = (loaded ??= instantiate());
  if (simd === null) return undefined;
  if (simd.views.has(bytes.buffer))
    return simd.checksum(bytes.byteOffset + start, bytes.byteOffset + end) >>> 0;
  let a = 0;
  let b = 0;
  for (let at = start; at < end; at += PIECE_BYTES) {
    const stop = Math.min(end, at + PIECE_BYTES);
    if (stop > at) simd.memoryBuffer.fill(bytes.subarray(at, stop), 0, stop - at);
    const piece = simd.checksum(0, stop - at);
    // Joining windows X then Y: every byte of X weighs |Y| more, so b = b_X + |Y|·a_X + b_Y.
    b = (b + Math.imul(stop - at, a) + (piece >>> 16)) | 0;
    a = (a + (piece & 0xffff)) | 0;
  }
  return ((a & 0xffff) | (b << 16)) >>> 0;
}

/** The weak checksum's halves where a roll stopped (`simdRoll`), as the matcher keeps them. */
export interface RollState {
  a: number;
  b: number;
}

/**
 * Rolls the weak checksum on from `state` over offsets `at` to `stop` of `bytes` up to the first whose
 * checksum `filter` marks as a candidate (`weak-roll-wasm.ts`: the per-byte loop of `DeltaMatcher`), and
 * returns that offset (`stop` if none), `state` then holding the checksum there. `filter` is the matcher's
 * (`version` changes whenever it does: it is copied into the module's filter area only then, ~30 µs). Every
 * offset below `stop` must have its block's byte after it in `bytes` (`stop + blockBytes <= bytes.length`).
 * Undefined, with `state` untouched, when `bytes` do not lie in the module's memory (`takeWeakChecksumBuffer`)
 * or this runtime has no module: the caller's loop rolls them.
 */
export function simdRoll(
  bytes: Uint8Array,
  at: number,
  stop: number,
  state: RollState,
  roll: { readonly outFactor: number; readonly blockBytes: number },
  filter: Uint32Array,
  version: number,
): number | undefined {
  const simd = (loaded ??= instantiate());
  if (simd === null || !simd.views.has(bytes.buffer)) return undefined;
  if (stop + roll.blockBytes > bytes.length) throw new RangeError('a roll past the bytes given');
  if (simd.filterOf?.filter !== filter || simd.filterOf.version !== version) {
    simd.filter.set(filter);
    simd.filterOf = { filter, version };
  }
  const base = bytes.byteOffset;
  const stopped = simd.roll(base + at, base + stop, state.a, state.b, roll.outFactor, roll.blockBytes) - base;
  const weak = simd.weak.value;
  state.a = weak & 0xffff;
  state.b = weak >>> 16;
  return stopped;
}

/**
 * A buffer of `bytes` bytes of shared memory to read windows into: in the module's memory if a slab is free
 * (or may still be added), so their weak checksums take no copy; else a plain SharedArrayBuffer. Its bytes
 * are what the last borrower left. Give it back with `releaseWeakChecksumBuffer` once nothing reads it.
 */
export function takeWeakChecksumBuffer(bytes: number): Buffer {
  const simd = (loaded ??= instantiate());
  if (simd === null || bytes > SLAB_BYTES) return Buffer.from(new SharedArrayBuffer(bytes));
  let at = simd.freeSlabs.pop();
  if (at === undefined && simd.slabs < MAX_SLABS) {
    try {
      at = simd.memory.grow(SLAB_PAGES) * 65536;
      simd.slabs++;
      simd.views.add(simd.memory.buffer);
    } catch {
      // Out of memory for the slab: a plain buffer does.
    }
  }
  if (at === undefined) return Buffer.from(new SharedArrayBuffer(bytes));
  return Buffer.from(simd.memory.buffer, at, bytes);
}

/** Whether `bytes` lie in the module's memory, so their checksums take no copy (for tests and benches). */
export function inWeakChecksumMemory(bytes: Uint8Array): boolean {
  return loaded?.views.has(bytes.buffer) === true;
}

/** Gives back a buffer from `takeWeakChecksumBuffer` (a plain one is just left to the collector). */
export function releaseWeakChecksumBuffer(buffer: Buffer): void {
  const simd = loaded;
  if (!simd || !simd.views.has(buffer.buffer) || buffer.byteOffset < PIECE_BYTES) return;
  if (!simd.freeSlabs.includes(buffer.byteOffset)) simd.freeSlabs.push(buffer.byteOffset);
}

/**
 * The compiled module and the shared memory it sums (`WebAssembly.Module` and `WebAssembly.Memory`, both of
 * which a worker thread may be given), or undefined when this runtime cannot run it: a thread that
 * instantiates the module with `{ env: { memory } }` sums windows of that memory in place, at their addresses
 * (the `byteOffset` of a buffer from `takeWeakChecksumBuffer`, which `inWeakChecksumMemory` tells apart),
 * with `checksum(start, end)` taken unsigned, as `weakChecksum` does: one definition of the weak checksum for
 * every thread (issue 16: a signing's leaf hash threads take the weak checksums of the pieces they read and
 * hash, not the session's thread after them). Slabs the memory gains later are seen by every thread (shared
 * memory grows for all of them).
 */
export function weakChecksumModule(): { readonly module: object; readonly memory: object } | undefined {
  const simd = (loaded ??= instantiate());
  return simd === null ? undefined : { module: simd.compiled, memory: simd.memory };
}

/** Whether this runtime runs the SIMD module (a test asserts it does here, so the fast path is the one tested). */
export function simdWeakChecksumAvailable(): boolean {
  return (loaded ??= instantiate()) !== null;
}

/**
 * The part of the WebAssembly JavaScript API used here (its global is not in this project's type libraries,
 * which hold Node's and no DOM).
 */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (limits: { initial: number; maximum: number; shared: boolean }) => Module['memory'];
  Instance: new (
    module: object,
    imports: { env: { memory: Module['memory'] } },
  ) => { exports: Record<string, unknown> };
}

function instantiate(): Module | null {
  try {
    const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
    const bytes = moduleBytes();
    if (wasm === undefined || !wasm.validate(bytes)) return null;
    // Imported, not its own: another thread instantiates the same module over this very memory.
    const memory = new wasm.Memory({ initial: FIXED_PAGES, maximum: MAX_PAGES, shared: true });
    const compiled = new wasm.Module(bytes);
    const { exports } = new wasm.Instance(compiled, { env: { memory } });
    const checksum = exports['checksum'] as Module['checksum'];
    // Shared memory is never detached: these views of the copy area and the filter stay valid as slabs are added.
    return {
      checksum,
      roll: exports['roll'] as Module['roll'],
      weak: exports['weak'] as Module['weak'],
      filter: new Uint32Array(memory.buffer, FILTER_AT, (2 * FILTER_BITS) / 32),
      filterOf: undefined,
      compiled,
      memory,
      memoryBuffer: Buffer.from(memory.buffer, 0, PIECE_BYTES),
      views: new Set([memory.buffer]),
      freeSlabs: [],
      slabs: 0,
    };
  } catch {
    return null;
  }
}

// ---- The module, from named instructions (WebAssembly 2.0 binary format). ----

// Locals: parameters start (0) and end (1); then v128 sums (2), earlier (3), evens (4), mask (5), weights (6),
// step (7); then i32 a (8), b (9), at (10).
const [START, END_AT, SUMS, EARLIER, EVENS, MASK, WEIGHTS, STEP, A, B, AT] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
];

/** The sum of a v128 local's eight 16-bit lanes (as i32; only its low 16 bits matter). */
function sumOfLanes(local: number): number[] {
  return [
    ...get(local),
    ...I32X4_EXTADD_PAIRWISE_I16X8_U,
    ...set(STEP),
    ...get(STEP),
    ...i32x4ExtractLane(0),
    ...[1, 2, 3].flatMap((lane) => [...get(STEP), ...i32x4ExtractLane(lane), ...I32_ADD]),
  ];
}

function checksumBody(): number[] {
  return [
    ...lanes16([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ...set(MASK),
    ...lanes16([15, 13, 11, 9, 7, 5, 3, 1]),
    ...set(WEIGHTS),
    ...get(START),
    ...set(AT),
    // 16 bytes a step while 16 remain.
    ...BLOCK,
    ...LOOP,
    ...get(AT),
    ...i32Const(16),
    ...I32_ADD,
    ...get(END_AT),
    ...I32_GT_U,
    ...brIf(1),
    // earlier += sums (every step so far weighs 16 more for each step after it)
    ...get(EARLIER),
    ...get(SUMS),
    ...I16X8_ADD,
    ...set(EARLIER),
    // sums += the step's pairs; evens += its even bytes
    ...get(AT),
    ...V128_LOAD,
    ...tee(STEP),
    ...I16X8_EXTADD_PAIRWISE_I8X16_U,
    ...get(SUMS),
    ...I16X8_ADD,
    ...set(SUMS),
    ...get(STEP),
    ...get(MASK),
    ...V128_AND,
    ...get(EVENS),
    ...I16X8_ADD,
    ...set(EVENS),
    ...addTo(AT, 16),
    ...LOOP_BACK_AND_END,
    // a = Σ sums; b = 16·Σ earlier + Σ (15 − 2m)·sums_m + Σ evens
    ...sumOfLanes(SUMS),
    ...set(A),
    ...sumOfLanes(EARLIER),
    ...i32Const(4),
    ...I32_SHL,
    ...get(SUMS),
    ...get(WEIGHTS),
    ...I16X8_MUL,
    ...set(EARLIER),
    ...sumOfLanes(EARLIER),
    ...I32_ADD,
    ...sumOfLanes(EVENS),
    ...I32_ADD,
    ...set(B),
    // The last bytes one at a time: a += x; b += a.
    ...BLOCK,
    ...LOOP,
    ...get(AT),
    ...get(END_AT),
    ...I32_GE_U,
    ...brIf(1),
    ...get(A),
    ...get(AT),
    ...I32_LOAD8_U,
    ...I32_ADD,
    ...tee(A),
    ...get(B),
    ...I32_ADD,
    ...set(B),
    ...addTo(AT, 1),
    ...LOOP_BACK_AND_END,
    // a | b << 16 (the caller takes it unsigned)
    ...get(A),
    ...i32Const(0xffff),
    ...I32_AND,
    ...get(B),
    ...i32Const(16),
    ...I32_SHL,
    ...I32_OR,
    ...END,
  ];
}

function moduleBytes(): Uint8Array {
  const locals = vector([
    [...uleb(6), V128],
    [...uleb(3), I32],
  ]);
  const checksum = [...locals, ...checksumBody()];
  const roll = [...ROLL_LOCALS, ...rollBody(FILTER_AT)];
  return Uint8Array.from([
    // magic, version 1
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    // type section: 0 (i32, i32) → i32, the checksum's; 1 the roll's
    ...section(1, vector([[0x60, ...vector([[I32], [I32]]), ...vector([[I32]])], ROLL_TYPE])),
    // import section: env.memory, shared (limits flags 3: a maximum, shared), FIXED_PAGES pages, room for
    // MAX_SLABS slabs more
    ...section(
      2,
      vector([[...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(FIXED_PAGES), ...uleb(MAX_PAGES)]]),
    ),
    // function section: the checksum (type 0), the roll (type 1)
    ...section(3, vector([[0x00], [0x01]])),
    // global section: the roll's checksum where it stopped, a mutable i32 starting at 0
    ...section(6, vector([[I32, 0x01, ...i32Const(0), ...END]])),
    // export section: the functions and the global
    ...section(
      7,
      vector([
        [...name('checksum'), 0x00, 0x00],
        [...name('roll'), 0x00, 0x01],
        [...name('weak'), 0x03, 0x00],
      ]),
    ),
    // code section
    ...section(
      10,
      vector([
        [...uleb(checksum.length), ...checksum],
        [...uleb(roll.length), ...roll],
      ]),
    ),
  ]);
}
