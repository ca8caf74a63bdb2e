import { Buffer } from 'node:buffer';

/**
 * The pieces of the WebAssembly 2.0 binary format (its §5) that ferry's hand-assembled modules are written
 * in (`simd-weak-checksum.ts`, `weak-roll-wasm.ts`): the encodings, a module's sections, and the instructions
 * they use by name, so what a module does is read in its source rather than in an opaque blob.
 */

export const I32 = 0x7f;
export const V128 = 0x7b;

/** Unsigned LEB128 (binary format §5.2.2). */
export function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** Signed LEB128, for i32.const. */
export function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

export const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
export const name = (text: string): number[] => [...uleb(text.length), ...Buffer.from(text, 'ascii')];
/** A SIMD instruction: prefix 0xfd, then its opcode as LEB128 (§5.4.8). */
export const simd = (opcode: number): number[] => [0xfd, ...uleb(opcode)];
/** A v128 constant of eight 16-bit lanes, little-endian. */
export const lanes16 = (values: readonly number[]): number[] => [
  ...simd(0x0c),
  ...values.flatMap((v) => [v & 0xff, v >>> 8]),
];

export const get = (local: number): number[] => [0x20, ...uleb(local)];
export const set = (local: number): number[] => [0x21, ...uleb(local)];
export const tee = (local: number): number[] => [0x22, ...uleb(local)];
export const i32Const = (value: number): number[] => [0x41, ...sleb(value)];
export const I32_ADD = [0x6a];
export const I32_AND = [0x71];
export const I32_OR = [0x72];
export const I32_SHL = [0x74];
export const I32_GE_U = [0x4f];
export const I32_GT_U = [0x4b];
export const I32_SUB = [0x6b];
export const I32_MUL = [0x6c];
export const I32_XOR = [0x73];
export const I32_SHR_U = [0x76];
/** i32.load with alignment 4 (2^2) at `offset` past the address on the stack. */
export const i32Load = (offset: number): number[] => [0x28, 0x02, ...uleb(offset)];
export const globalSet = (index: number): number[] => [0x24, ...uleb(index)];
/** i32.load8_u with alignment 1, offset 0. */
export const I32_LOAD8_U = [0x2d, 0x00, 0x00];
export const BLOCK = [0x02, 0x40];
export const LOOP = [0x03, 0x40];
/** if with no result (block type empty). */
export const IF = [0x04, 0x40];
export const END = [0x0b];
export const brIf = (depth: number): number[] => [0x0d, ...uleb(depth)];
export const br = (depth: number): number[] => [0x0c, ...uleb(depth)];
/** v128.load with alignment 1 (2^0), offset 0. */
export const V128_LOAD = [...simd(0x00), 0x00, 0x00];
export const V128_AND = simd(0x4e);
export const I16X8_ADD = simd(0x8e);
export const I16X8_MUL = simd(0x95);
export const I16X8_EXTADD_PAIRWISE_I8X16_U = simd(0x7d);
export const I32X4_EXTADD_PAIRWISE_I16X8_U = simd(0x7f);
export const i32x4ExtractLane = (lane: number): number[] => [...simd(0x1b), lane];

/** `local += by` (i32). */
export const addTo = (local: number, by: number): number[] => [
  ...get(local),
  ...i32Const(by),
  ...I32_ADD,
  ...set(local),
];

/** The back edge of a `block` `loop` pair's loop, then the ends of both: the loop's body ends here. */
export const LOOP_BACK_AND_END = [...br(0), ...END, ...END];
