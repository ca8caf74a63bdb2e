import { Buffer } from 'node:buffer';
import type { SeededRandom } from '../helpers/seeded-random.js';

/** Values that sit on the edges of integer fields: where off-by-one and overflow bugs live. */
const BOUNDARY_U8 = [0x00, 0x01, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const BOUNDARY_U16 = [0, 1, 2, 16, 17, 255, 256, 0x7fff, 0x8000, 0xfffe, 0xffff];
const BOUNDARY_U32 = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 1024, 2 ** 26, 2 ** 26 + 1];
const BOUNDARY_U64 = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];

/** The mutation operators, by name (reports count inputs per operator). */
export const MUTATIONS = [
  'flip-bit',
  'set-byte',
  'insert',
  'delete',
  'duplicate',
  'truncate',
  'extend',
  'length-tweak',
  'boundary-int',
  'splice',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

/**
 * Random bytes whose length is usually small (most parsers fail early, and small inputs explore more
 * branches per second) but sometimes up to `maxLength`.
 */
export function randomBytes(random: SeededRandom, maxLength: number): Buffer {
  const roll = random.next();
  const length =
    roll < 0.6
      ? random.int(0, Math.min(64, maxLength))
      : roll < 0.9
        ? random.int(0, Math.min(1024, maxLength))
        : random.int(0, maxLength);
  return random.bytes(length);
}

/**
 * Applies 1 to `maxSteps` random mutations to a copy of `seed`: bit flips, byte sets, inserts, deletes,
 * duplicated ranges, truncation, extension, length-field tweaks (a u16/u32 read at a random offset and
 * nudged by a small amount), boundary integers written over any field width, and splices with `others`.
 * Returns the new bytes and the operators applied.
 */
export function mutate(
  random: SeededRandom,
  seed: Uint8Array,
  options: { others?: readonly Uint8Array[]; maxSteps?: number; maxLength?: number } = {},
): { bytes: Buffer; steps: Mutation[] } {
  let bytes: Buffer = Buffer.from(seed);
  const steps: Mutation[] = [];
  const count = random.int(1, options.maxSteps ?? 4);
  for (let i = 0; i < count; i++) {
    const step = random.pick(MUTATIONS);
    steps.push(step);
    bytes = applyMutation(random, bytes, step, options.others ?? []);
  }
  if (options.maxLength !== undefined && bytes.length > options.maxLength)
    bytes = bytes.subarray(0, options.maxLength);
  return { bytes, steps };
}

function applyMutation(
  random: SeededRandom,
  bytes: Buffer,
  step: Mutation,
  others: readonly Uint8Array[],
): Buffer {
  const at = (extra = 0): number => random.int(0, Math.max(0, bytes.length - 1 + extra));
  switch (step) {
    case 'flip-bit': {
      if (bytes.length === 0) return random.bytes(1);
      const i = at();
      bytes[i] = (bytes[i] as number) ^ (1 << random.int(0, 7));
      return bytes;
    }
    case 'set-byte': {
      if (bytes.length === 0) return random.bytes(1);
      bytes[at()] = random.next() < 0.5 ? random.pick(BOUNDARY_U8) : random.int(0, 255);
      return bytes;
    }
    case 'insert': {
      const i = at(1);
      const insert =
        random.next() < 0.5
          ? random.bytes(random.int(1, 8))
          : Buffer.alloc(random.int(1, 300), random.pick(BOUNDARY_U8));
      return Buffer.concat([bytes.subarray(0, i), insert, bytes.subarray(i)]);
    }
    case 'delete': {
      if (bytes.length === 0) return bytes;
      const i = at();
      const n = random.int(1, Math.min(16, bytes.length - i));
      return Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + n)]);
    }
    case 'duplicate': {
      if (bytes.length === 0) return bytes;
      const i = at();
      const n = random.int(1, Math.min(64, bytes.length - i));
      const j = at(1);
      return Buffer.concat([bytes.subarray(0, j), bytes.subarray(i, i + n), bytes.subarray(j)]);
    }
    case 'truncate':
      return bytes.subarray(0, random.int(0, bytes.length));
    case 'extend':
      return Buffer.concat([bytes, random.bytes(random.int(1, 32))]);
    case 'length-tweak': {
      // Any u16 or u32 might be a length: nudge one by a small amount, the classic off-by-one probe.
      const width = random.pick([2, 4]);
      if (bytes.length < width) return bytes;
      const i = random.int(0, bytes.length - width);
      const delta = random.pick([-2, -1, 1, 2, 16, -16, 256]);
      if (width === 2) bytes.writeUInt16BE((bytes.readUInt16BE(i) + delta + 0x10000) & 0xffff, i);
      else bytes.writeUInt32BE((bytes.readUInt32BE(i) + delta + 0x100000000) % 0x100000000, i);
      return bytes;
    }
    case 'boundary-int': {
      const width = random.pick([1, 2, 4, 8]);
      if (bytes.length < width) return bytes;
      const i = random.int(0, bytes.length - width);
      if (width === 1) bytes[i] = random.pick(BOUNDARY_U8);
      else if (width === 2) bytes.writeUInt16BE(random.pick(BOUNDARY_U16), i);
      else if (width === 4) bytes.writeUInt32BE(random.pick(BOUNDARY_U32), i);
      else bytes.writeBigUInt64BE(random.pick(BOUNDARY_U64), i);
      return bytes;
    }
    case 'splice': {
      if (others.length === 0) return bytes;
      const other = Buffer.from(random.pick(others));
      const cut = random.int(0, bytes.length);
      const from = random.int(0, other.length);
      return Buffer.concat([bytes.subarray(0, cut), other.subarray(from)]);
    }
  }
}
