import { DELTA_STRONG_BYTES, deltaBlockLength, type DeltaSignature } from './delta-signature.js';
import { LEAF_BYTES } from './constants.js';
import { leafHash } from './merkle-tree-hash.js';
import { weakChecksum } from './rolling-checksum.js';
import { simdRoll, type RollState } from './simd-weak-checksum.js';
import { FILTER_BITS, filterIndex, secondFilterIndex } from './weak-roll-wasm.js';

/**
 * One piece of the new file (PROTOCOL.md §5.15): `length` bytes at `newOffset`, either copied from the old
 * file at `oldOffset` (a PUT_COPY) or, with `oldOffset` −1, sent as literal bytes (PUT_DATA).
 */
export interface DeltaOp {
  readonly newOffset: number;
  readonly length: number;
  readonly oldOffset: number;
}

/** Where a scan stopped: the ops cover `[from, next)` of the new file, gap-free and in order. */
export interface DeltaScan {
  readonly ops: DeltaOp[];
  readonly next: number;
}

/**
 * Told of every block found, with the full leaf hash (§7.2) of the bytes found: a delta download uses it as
 * the chunk hash of the leaf it copies (PROTOCOL.md §5.17.3), so the bytes are hashed once, not twice.
 */
export type DeltaMatchListener = (block: number, newOffset: number, leafHash: Buffer) => void;

/**
 * rsync's matcher (Tridgell 1999, §3.3) over the sender's new file: roll the weak checksum over every byte
 * offset, look the value up among the old file's blocks, and confirm a candidate with the strong hash. Pure:
 * it sees only the bytes it is given, so the caller streams a large file through it window by window.
 */
export class DeltaMatcher {
  readonly #signature: DeltaSignature;
  // weak checksum → the old blocks with it, in order (most have one).
  readonly #byWeak = new Map<number, number[]>();
  /**
   * One bit per value of `filterIndex(weak)` that some block has: checked at every byte before the Map. Then
   * as many for `secondFilterIndex(weak)`, which the WebAssembly roll checks too (`weak-roll-wasm.ts`).
   */
  readonly #filter = new Uint32Array((2 * FILTER_BITS) / 32);
  /** Bumped whenever `#filter` changes (`extend`), so the WebAssembly roll copies it again (`simdRoll`). */
  #filterVersion = 0;
  /** The weak checksum's halves across a WebAssembly roll (`simdRoll`), reused: no object per call. */
  readonly #rollState: RollState = { a: 0, b: 0 };
  /** What the WebAssembly roll needs of the block size. */
  readonly #roll: { readonly outFactor: number; readonly blockBytes: number };
  #lastBlock = -2;
  /** The new-file offset where the last block found ends: a scan starting there follows its run. */
  #runEnd = -1;
  /** The old file's short last block, which matches only at the new file's end. */
  readonly #tail: { block: number; length: number } | undefined;

  /** The weak checksum's halves where the last roll stopped (`#rollToCandidate`), and the two as an int32. */
  #a = 0;
  #b = 0;
  #weak = 0;

  #onMatch: DeltaMatchListener | undefined;
  #knownLeaf: KnownLeafHash | undefined;
  /** Blocks `[0, #known)` are looked for; the rest of the signature has not arrived yet (`extend`). */
  #known = 0;
  /** The signature's block size (PROTOCOL.md §5.15.2): the window the weak checksum rolls over. */
  readonly blockBytes: number;
  /** Blocks this matcher hashed itself (none known ahead): what a warm delta spares (issue 16). */
  hashedBlocks = 0;
  /** Offsets the weak checksum rolled over, one by one: what scanning a span twice costs (issue 16). */
  rolledOffsets = 0;
  /** Weak checksums taken afresh over a whole block (after a match whose run did not go on, or a scan's start). */
  summedBlocks = 0;
  /** Of `rolledOffsets`, those rolled by the WebAssembly loop (`simdRoll`), not this file's. */
  simdRolledOffsets = 0;

  /**
   * With `known`, only the signature's first `known` blocks have arrived (their records filled in, the rest
   * of its arrays not yet): the matcher looks for those alone until `extend` says more came, so a scan can
   * run while the signature still streams (a block arriving later is found by scanning again what stayed
   * unmatched).
   */
  constructor(signature: DeltaSignature, onMatch?: DeltaMatchListener, known = signature.weak.length) {
    this.#signature = signature;
    this.#onMatch = onMatch;
    const blockBytes = signature.blockBytes;
    this.blockBytes = blockBytes;
    // Rolling out a byte takes `blockBytes × out` from b (PROTOCOL.md §5.15), 0 mod 2^16 for 64 KiB blocks.
    this.#roll = { outFactor: blockBytes & 0xffff, blockBytes };
    const last = signature.weak.length - 1;
    const tailLength = last >= 0 ? deltaBlockLength(last, signature.oldSize, blockBytes) : blockBytes;
    this.#tail = tailLength < blockBytes ? { block: last, length: tailLength } : undefined;
    this.extend(known);
  }

  /** The size of the file the signature is of (the receiver's old file), known from its first record. */
  get oldSize(): number {
    return this.#signature.oldSize;
  }

  /** The signature's blocks looked for: all of them once it is whole. */
  get knownBlocks(): number {
    return this.#known;
  }

  /** The signature's first `known` blocks have arrived: look for them from now on. */
  extend(known: number): void {
    const weakOf = this.#signature.weak;
    if (!Number.isInteger(known) || known < this.#known || known > weakOf.length)
      throw new RangeError('a signature only grows, up to its blocks');
    for (let block = this.#known; block < known; block++) {
      if (block === this.#tail?.block) continue;
      const weak = weakOf[block]!;
      const list = this.#byWeak.get(weak | 0);
      // Keys as int32 (`| 0`): a uint32 above 2^31 is a heap number, boxed at every byte of the scan.
      const bit = filterIndex(weak | 0);
      this.#filter[bit >>> 5]! |= 1 << (bit & 31);
      const second = FILTER_BITS + secondFilterIndex(weak | 0);
      this.#filter[second >>> 5]! |= 1 << (second & 31);
      if (list === undefined) this.#byWeak.set(weak | 0, [block]);
      else list.push(block);
    }
    if (known > this.#known) this.#filterVersion++;
    this.#known = known;
  }

  /** The length of old block `block` (the last may be short, §5.15.2). */
  blockLength(block: number): number {
    return deltaBlockLength(block, this.#signature.oldSize, this.blockBytes);
  }

  /**
   * Where `known` has the leaf hash of the scanned bytes' leaf at an offset (the sender hashed its file's
   * leaves while the signature arrived, `delta-streamer.ts`), a block of one leaf there is checked with that
   * hash instead of hashing the bytes again. The caller vouches that it is the hash of the bytes scanned.
   */
  useKnownLeafHashes(known: KnownLeafHash | undefined): void {
    this.#knownLeaf = known;
  }

  /**
   * Whether arrived block `block` is a whole leaf whose strong hash is that of the leaf hash `leafHash`: a
   * leaf of the new file at the block's own offset is then found in place by its hash alone, as a scan's
   * run of blocks after a match is (`#chainAt`), without its bytes (a delta upload's chunks whose every leaf
   * was hashed ahead, `delta-streamer.ts`).
   */
  holdsLeaf(block: number, leafHash: Uint8Array): boolean {
    return (
      this.blockBytes === LEAF_BYTES &&
      block >= 0 &&
      block < this.#known &&
      this.blockLength(block) === LEAF_BYTES &&
      this.#strongEquals(block, leafHash)
    );
  }

  /**
   * Block `block` was found without a scan (`holdsLeaf`): the next scan prefers the block after it among
   * equal candidates, as after a match of its own.
   */
  foundWithoutScan(block: number): void {
    this.#lastBlock = block;
    this.#runEnd = (block + 1) * this.blockBytes;
  }

  /** Tells `listener` (in place of the constructor's; undefined: no one) of every block found from now on. */
  listen(listener: DeltaMatchListener | undefined): void {
    this.#onMatch = listener;
  }

  /**
   * Scans new-file offsets `[from, to)` for block matches. `bytes` holds the new file from offset `base`, and
   * must reach `min(size, to − 1 + blockBytes)` so a block starting before `to` can be compared whole (`size`
   * is where `bytes` ends when it holds the file's end). A match starting before `to` is taken whole, so
   * `next` may pass `to` by less than a block; the caller's next scan starts at `next`. `atEnd` says that
   * `bytes` ends where the new file ends, where the old file's short last block may match.
   */
  scan(bytes: Uint8Array, base: number, from: number, to: number, atEnd = false): DeltaScan {
    const ops: DeltaOp[] = [];
    const end = base + bytes.length;
    const blockBytes = this.blockBytes;
    let literalStart = from;
    let at = from;
    // Whether the weak checksum is to be taken afresh at `at` (after a match), or rolled on from `at` (after a
    // candidate that was no match).
    let fresh = true;
    // After a match, the block after it is tried first by its strong hash alone, at the very next offset:
    // edits leave long runs of consecutive blocks, and this spares the weak checksum of every block of a run.
    // A scan starting where the last match ended (the caller's next window, after a match carried past the
    // last one's end) follows that run too, as rsync's one pass over the file does (issue 16: a fresh weak
    // checksum over a block at every chunk of an insertion).
    let chained = from === this.#runEnd ? this.#chainable(this.#lastBlock + 1) : -1;
    // The rare paths (a literal run, the end's short block) are functions of their own, and the per-byte
    // roll too: V8 optimizes this loop before an edit is ever met, and each path first taken afterwards
    // throws the optimized code away, a recompile of whatever it holds (issue 16: six per 1 GiB download).
    while (at < to && at + blockBytes <= end) {
      let block = chained >= 0 ? this.#chainAt(bytes, base, at, chained) : -1;
      chained = -1;
      if (block < 0) {
        at = this.#rollToCandidate(bytes, base, at, Math.min(to, end - blockBytes + 1), fresh);
        fresh = false;
        if (at >= to || at + blockBytes > end) break;
        block = this.#matchAt(bytes, base, at, this.#weak);
        if (block < 0) continue;
      }
      if (at > literalStart) pushLiteral(ops, literalStart, at);
      pushCopy(ops, at, block * blockBytes, blockBytes);
      this.#lastBlock = block;
      at += blockBytes;
      this.#runEnd = at;
      literalStart = at;
      fresh = true;
      chained = this.#chainable(block + 1);
    }
    return this.#scanEnd(ops, bytes, base, literalStart, Math.max(at, to), to, atEnd);
  }

  /** `block` when it may follow a match by its strong hash alone (an arrived whole block), or −1. */
  #chainable(block: number): number {
    return block >= 0 && block < this.#known && block !== this.#tail?.block ? block : -1;
  }

  /**
   * The first offset from `at` (or from the one after it, when not `fresh`: `at` was a candidate and no
   * match) and below `stop` whose weak checksum passes the filter, or `stop`; its checksum in `#weak`. The
   * per-byte path, alone in a loop of its own. A block starts at every offset below `stop`.
   */
  #rollToCandidate(bytes: Uint8Array, base: number, at: number, stop: number, fresh: boolean): number {
    const blockBytes = this.blockBytes;
    const end = base + bytes.length;
    const outFactor = this.#roll.outFactor;
    const filter = this.#filter;
    // The checksum's two halves (PROTOCOL.md §5.15) rolled here and joined as an int32 key (the Map's keys
    // are int32 too): a uint32 above 2^31 would be a heap number at every byte.
    let a = this.#a;
    let b = this.#b;
    if (fresh) {
      this.summedBlocks++;
      const weak = weakChecksum(bytes, at - base, at - base + blockBytes);
      a = weak & 0xffff;
      b = weak >>> 16;
    } else {
      if (at + blockBytes < end) {
        const out = bytes[at - base]!;
        a = (a - out + bytes[at - base + blockBytes]!) & 0xffff;
        b = (b - outFactor * out + a) & 0xffff;
      }
      at++;
      // Counted as the loop's offsets are: an offset rolled past is one whether a candidate stopped it or not.
      this.rolledOffsets++;
    }
    // Every offset below `rolled` rolls on to the next; the last block of `bytes`, at `end − blockBytes`, has
    // no byte after it to roll in.
    const rolled = Math.min(stop, end - blockBytes);
    const start = at - base;
    let i = start;
    const last = rolled - base;
    // Bytes in the weak checksum's memory (a scan's read buffers) are rolled by its WebAssembly loop up to the
    // first candidate, which the loop below then sees as one at once (issue 16: 20-40 ns an offset here in a
    // fresh process, before V8 optimizes this loop, against ~2 there).
    if (last - i >= SIMD_ROLL_MIN_OFFSETS) {
      const state = this.#rollState;
      state.a = a;
      state.b = b;
      const stopped = simdRoll(bytes, i, last, state, this.#roll, filter, this.#filterVersion);
      if (stopped !== undefined) {
        this.simdRolledOffsets += stopped - i;
        i = stopped;
        a = state.a;
        b = state.b;
      }
    }
    for (; i < last; i++) {
      const bit = filterIndex(a | (b << 16));
      if ((filter[bit >>> 5]! & (1 << (bit & 31))) !== 0) {
        this.rolledOffsets += i - start;
        return this.#stopAt(i + base, a, b);
      }
      // rollChecksum inlined; for 64 KiB blocks outFactor is 0, so b gains a' alone.
      const out = bytes[i]!;
      a = (a - out + bytes[i + blockBytes]!) & 0xffff;
      b = (b - outFactor * out + a) & 0xffff;
    }
    this.rolledOffsets += i - start;
    at = i + base;
    if (at < stop && !this.#candidate(a | (b << 16))) at++;
    return this.#stopAt(at, a, b);
  }

  /** Whether some block's weak checksum may be `weak` (the filter's bit for it is set). */
  #candidate(weak: number): boolean {
    const bit = filterIndex(weak);
    return (this.#filter[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  #stopAt(at: number, a: number, b: number): number {
    this.#a = a;
    this.#b = b;
    this.#weak = a | (b << 16);
    return at;
  }

  /** The scan's last ops: the literal bytes left up to `next`, or up to the old file's short last block. */
  #scanEnd(
    ops: DeltaOp[],
    bytes: Uint8Array,
    base: number,
    literalStart: number,
    next: number,
    to: number,
    atEnd: boolean,
  ): DeltaScan {
    const end = base + bytes.length;
    const tail = atEnd ? this.#tailAt(bytes, base, literalStart, to) : -1;
    if (tail >= 0) {
      if (tail > literalStart) pushLiteral(ops, literalStart, tail);
      ops.push({ newOffset: tail, length: end - tail, oldOffset: this.#tail!.block * this.blockBytes });
      return { ops, next: end };
    }
    if (next > literalStart) pushLiteral(ops, literalStart, next);
    return { ops, next };
  }

  /** Where the old file's short last block matches the new file's last bytes, within the scan, or −1. */
  #tailAt(bytes: Uint8Array, base: number, literalStart: number, to: number): number {
    const tail = this.#tail;
    if (!tail || tail.block >= this.#known) return -1;
    const start = base + bytes.length - tail.length;
    if (start < literalStart || start >= to || start < base) return -1;
    const piece = bytes.subarray(start - base);
    if (weakChecksum(piece, 0, piece.length) !== this.#signature.weak[tail.block]) return -1;
    const hash = leafHash(piece);
    this.hashedBlocks++;
    if (!this.#strongEquals(tail.block, hash)) return -1;
    this.#onMatch?.(tail.block, start, hash);
    return start;
  }

  /** `block` at `at` by its strong hash alone (the block after the last match), or −1. */
  #chainAt(bytes: Uint8Array, base: number, at: number, block: number): number {
    const hash = this.#blockHash(bytes, base, at);
    if (!this.#strongEquals(block, hash)) return -1;
    this.#onMatch?.(block, at, hash);
    return block;
  }

  #matchAt(bytes: Uint8Array, base: number, at: number, weak: number): number {
    const candidates = this.#byWeak.get(weak);
    if (candidates === undefined) return -1;
    const hash = this.#blockHash(bytes, base, at);
    // The block after the last match first: edits leave long runs of consecutive blocks (as rsync does).
    const expected = this.#lastBlock + 1;
    let found = -1;
    if (candidates.includes(expected) && this.#strongEquals(expected, hash)) found = expected;
    else
      for (const block of candidates) {
        if (!this.#strongEquals(block, hash)) continue;
        found = block;
        break;
      }
    if (found >= 0) this.#onMatch?.(found, at, hash);
    return found;
  }

  /** The leaf hash of the block of the scanned bytes at `at`: known ahead (a leaf), or hashed now. */
  #blockHash(bytes: Uint8Array, base: number, at: number): Buffer {
    const known = this.blockBytes === LEAF_BYTES ? this.#knownLeaf?.(at) : undefined;
    if (known !== undefined) return known;
    this.hashedBlocks++;
    return leafHash(bytes.subarray(at - base, at - base + this.blockBytes));
  }

  /**
   * Whether block `block`'s strong hash is the first DELTA_STRONG_BYTES of `hash` (a leaf hash): compared in
   * place, once per leaf checked; two views and Buffer#equals were ~5 ms per 16,384 leaves, this ~0.7.
   */
  #strongEquals(block: number, hash: Uint8Array): boolean {
    if (hash.length < DELTA_STRONG_BYTES) return false;
    const strong = this.#signature.strong;
    const at = block * DELTA_STRONG_BYTES;
    for (let i = 0; i < DELTA_STRONG_BYTES; i++) if (strong[at + i] !== hash[i]) return false;
    return true;
  }
}

/**
 * The leaf hash of the scanned bytes' whole leaf starting at `offset`, when known ahead; undefined otherwise
 * (any offset not on a leaf boundary, or a leaf not hashed ahead).
 */
export type KnownLeafHash = (offset: number) => Buffer | undefined;

/**
 * Offsets a roll may cover before it goes to the WebAssembly loop: a call and the copy of its state cost
 * about as much as a few offsets rolled here (a roll stops at the first filter's candidates, most within ~60
 * offsets when 16,384 blocks set 1.6 % of its bits, the WebAssembly loop at both filters' only).
 */
const SIMD_ROLL_MIN_OFFSETS = 16;

function pushLiteral(ops: DeltaOp[], from: number, to: number): void {
  ops.push({ newOffset: from, length: to - from, oldOffset: -1 });
}

function pushCopy(ops: DeltaOp[], newOffset: number, oldOffset: number, blockBytes: number): void {
  const last = ops[ops.length - 1];
  if (
    last !== undefined &&
    last.oldOffset >= 0 &&
    last.newOffset + last.length === newOffset &&
    last.oldOffset + last.length === oldOffset
  ) {
    ops[ops.length - 1] = {
      newOffset: last.newOffset,
      length: last.length + blockBytes,
      oldOffset: last.oldOffset,
    };
    return;
  }
  ops.push({ newOffset, length: blockBytes, oldOffset });
}

/** The ops of one chunk `[start, end)`: the pieces of `ops` inside it, cut at its edges (PUT_COPY never crosses one). */
export function deltaOpsWithin(ops: readonly DeltaOp[], start: number, end: number): DeltaOp[] {
  const out: DeltaOp[] = [];
  for (const op of ops) {
    const from = Math.max(op.newOffset, start);
    const to = Math.min(op.newOffset + op.length, end);
    if (from >= to) continue;
    out.push({
      newOffset: from,
      length: to - from,
      oldOffset: op.oldOffset < 0 ? -1 : op.oldOffset + (from - op.newOffset),
    });
  }
  return out;
}

/** Rebuilds the new file's `[op…]` range from the old file and the literal source (the receiver's rule, for tests). */
export function applyDeltaOps(
  old: Uint8Array,
  ops: readonly DeltaOp[],
  literal: (op: DeltaOp) => Uint8Array,
): Uint8Array {
  let total = 0;
  for (const op of ops) total += op.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const op of ops) {
    const piece = op.oldOffset < 0 ? literal(op) : old.subarray(op.oldOffset, op.oldOffset + op.length);
    if (piece.length !== op.length) throw new RangeError('delta op reaches past its source');
    out.set(piece, at);
    at += op.length;
  }
  return out;
}
