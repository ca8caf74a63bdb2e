// Fuzz target (a): the incremental frame decoder (PROTOCOL.md §3.1, §4.1) fed valid, mutated and random
// streams in random splits.
import { Buffer } from 'node:buffer';
import { FerryError } from '../../../src/errors/index.js';
import { FrameDecoder, encodeFrame } from '../../../src/protocol/index.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import { mutate, randomBytes } from '../mutate-bytes.js';
import { FuzzFailure, type FuzzTarget } from '../run-fuzz.js';

type Outcome = { frames: Buffer[]; error: string | undefined };

/**
 * The obviously-correct model: walk the stream, check each length against the bounds before taking the body.
 * What the decoder returns before the error is what the model returns before it.
 */
function referenceDecode(stream: Buffer, minLength: number, maxLength: number): Outcome {
  const frames: Buffer[] = [];
  let pos = 0;
  while (pos + 2 <= stream.length) {
    const length = stream.readUInt16BE(pos);
    if (length > maxLength) return { frames, error: 'RECORD_TOO_LARGE' };
    if (length < minLength) return { frames, error: 'MESSAGE_MALFORMED' };
    if (pos + 2 + length > stream.length) break;
    frames.push(stream.subarray(pos + 2, pos + 2 + length));
    pos += 2 + length;
  }
  return { frames, error: undefined };
}

/** A stream of valid frames with bodies inside the bounds. */
function validStream(random: SeededRandom, minLength: number, maxLength: number): Buffer {
  const frames: Buffer[] = [];
  const count = random.int(0, 6);
  for (let i = 0; i < count; i++) {
    const roll = random.next();
    const length =
      roll < 0.2
        ? minLength
        : roll < 0.3
          ? maxLength
          : random.int(minLength, Math.min(maxLength, minLength + 300));
    frames.push(encodeFrame(random.bytes(length)));
  }
  return Buffer.concat(frames);
}

/** Cuts `stream` into pieces: empty pieces, single bytes, and runs that straddle frame headers. */
function randomSplit(random: SeededRandom, stream: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  let pos = 0;
  while (pos < stream.length) {
    const roll = random.next();
    const n =
      roll < 0.1 ? 0 : roll < 0.4 ? 1 : roll < 0.6 ? 2 : random.int(1, Math.max(1, stream.length - pos));
    // Some pieces are copies in Uint8Array form (the decoder must accept any Uint8Array, not only Buffer).
    const piece = stream.subarray(pos, pos + n);
    pieces.push(random.next() < 0.2 ? (new Uint8Array(piece) as Buffer) : piece);
    pos += n;
  }
  return pieces;
}

function feed(decoder: FrameDecoder, pieces: Buffer[], maxLength: number, input: Buffer): Outcome {
  const frames: Buffer[] = [];
  for (const piece of pieces) {
    let out: Buffer[];
    try {
      out = decoder.push(piece);
    } catch (err) {
      if (!(err instanceof FerryError))
        throw new FuzzFailure(`push threw a non-FerryError: ${String(err)}`, input);
      // Poisoned: every later push throws the same error.
      let again: unknown;
      try {
        decoder.push(Buffer.from([0, 0]));
      } catch (e) {
        again = e;
      }
      if (again !== err) throw new FuzzFailure('decoder accepted bytes after it failed', input);
      return { frames, error: err.code };
    }
    // Frames are copied at once: the decoder may hand out views of the piece it was given.
    for (const frame of out) frames.push(Buffer.from(frame));
    // Bounded memory: at most one partial frame (its header byte and body) is held.
    if (decoder.bufferedBytes > maxLength + 1) {
      throw new FuzzFailure(`decoder buffers ${decoder.bufferedBytes} bytes, more than one frame`, input);
    }
  }
  return { frames, error: undefined };
}

/** Target (a): any split of a stream yields the model's frames, or the model's coded error. */
export function frameDecoderTarget(): FuzzTarget {
  const kinds: Record<string, number> = { valid: 0, mutated: 0, random: 0 };
  return {
    name: 'frame-decoder',
    one(random: SeededRandom): void {
      // The bounds the channel uses (handshake 1..65535, records 17..65535), and random ones.
      const [minLength, maxLength] = random.pick<[number, number]>([
        [1, 65535],
        [17, 65535],
        [0, 0],
        [0, 3],
        [random.int(0, 40), random.int(40, 400)],
      ]);
      const kind = random.pick(['valid', 'mutated', 'random'] as const);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      const valid = validStream(random, minLength, maxLength);
      const stream =
        kind === 'valid'
          ? valid
          : kind === 'mutated'
            ? mutate(random, valid).bytes
            : randomBytes(random, 4096);
      const expected = referenceDecode(stream, minLength, maxLength);
      const actual = feed(
        new FrameDecoder({ minLength, maxLength }),
        randomSplit(random, stream),
        maxLength,
        stream,
      );
      if (actual.error !== expected.error) {
        throw new FuzzFailure(`error ${String(actual.error)}, model says ${String(expected.error)}`, stream);
      }
      // After an error the stream is dead: frames completed earlier in the same `push` are not returned (the
      // channel closes the connection anyway), so then the decoder's frames need only be a prefix of the model's.
      const prefixOnly = actual.error !== undefined;
      const countOk = prefixOnly
        ? actual.frames.length <= expected.frames.length
        : actual.frames.length === expected.frames.length;
      if (!countOk || actual.frames.some((f, i) => !f.equals(expected.frames[i]!))) {
        throw new FuzzFailure(
          `${actual.frames.length} frames, model says ${expected.frames.length} (bounds ${minLength}..${maxLength})`,
          stream,
        );
      }
    },
    stats: () => ({ ...kinds }),
  };
}
