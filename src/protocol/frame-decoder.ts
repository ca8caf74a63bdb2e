import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';
import { copyBytes } from './copy-bytes.js';

// Every frame on the wire starts with a u16 big-endian length (PROTOCOL.md §3.1, §4).
const FRAME_HEADER_BYTES = 2;
const MAX_FRAME_LENGTH = 0xffff;

/** The bounds a FrameDecoder enforces on each frame's body length, inclusive. */
export interface FrameDecoderOptions {
  /** Smallest body length accepted; a shorter announced length is MESSAGE_MALFORMED. */
  minLength: number;
  /** Largest body length accepted (at most 65535); a longer announced length is RECORD_TOO_LARGE. */
  maxLength: number;
}

/**
 * Splits a byte stream into u16-length-prefixed frames: handshake messages (PROTOCOL.md §3.1) and records
 * (§4). Sans-IO: feed it whatever the socket delivered and it hands back every complete frame body.
 *
 * Memory is bounded: it holds at most one partial frame, and a length outside the bounds is refused as soon
 * as its two bytes are known, before any of the body is buffered (§4.1). After it has thrown once it is
 * poisoned: every later `push` throws the same error, since the stream can no longer be framed.
 */
export class FrameDecoder {
  readonly #minLength: number;
  readonly #maxLength: number;
  /** The first length byte when only it has arrived, else -1. */
  #headerByte = -1;
  /** The body being filled, allocated once its length is known and accepted. */
  #body: Buffer | null = null;
  /**
   * `pushEach`'s reused body for frames split across chunks: its frames are handed to a callback that is
   * done with them when it returns, so one buffer serves every split frame (no allocation per record).
   */
  #scratch: Buffer | null = null;
  #filled = 0;
  #failure: FerryError | null = null;

  constructor(options: FrameDecoderOptions) {
    const { minLength, maxLength } = options;
    if (!Number.isInteger(minLength) || !Number.isInteger(maxLength)) {
      throw new FerryError('INTERNAL', `frame bounds must be integers, got ${minLength} and ${maxLength}`);
    }
    if (minLength < 0 || maxLength > MAX_FRAME_LENGTH || minLength > maxLength) {
      throw new FerryError(
        'INTERNAL',
        `frame bounds must satisfy 0 <= ${minLength} <= ${maxLength} <= 65535`,
      );
    }
    this.#minLength = minLength;
    this.#maxLength = maxLength;
  }

  /** Bytes received but not yet returned as part of a frame (0 exactly at a frame boundary). */
  get bufferedBytes(): number {
    return (this.#headerByte >= 0 ? 1 : 0) + this.#filled;
  }

  /**
   * Consumes `chunk` and returns the bodies of every frame it completes, in order (possibly none). Any
   * split of the same stream yields the same frames. A returned body may share memory with `chunk`
   * (zero-copy); copy it if `chunk`'s memory is going to be reused.
   */
  push(chunk: Uint8Array): Buffer[] {
    const frames: Buffer[] = [];
    this.#guarded(chunk, (body) => frames.push(body), false);
    return frames;
  }

  /**
   * Like `push`, but hands each completed frame body to `onFrame` as it is found, and the body is only valid
   * until `onFrame` returns: a frame split across chunks is assembled in one reused buffer, a whole one is a
   * view of `chunk`. The receive hot path (PROTOCOL.md §4) opens each record inside `onFrame`, so no record
   * needs a buffer of its own. An error thrown by `onFrame` propagates, and the decoder is poisoned: the rest
   * of `chunk` was not read, so the stream can no longer be framed. With `place`, a frame split across chunks
   * is assembled where `place(length)` says (exactly `length` bytes the caller keeps for it until `onFrame`
   * gets it), so a caller that copies each frame somewhere anyway saves a copy; undefined: the reused buffer.
   */
  pushEach(
    chunk: Uint8Array,
    onFrame: (body: Buffer) => void,
    place?: (length: number) => Buffer | undefined,
  ): void {
    this.#guarded(chunk, onFrame, true, place);
  }

  #guarded(
    chunk: Uint8Array,
    onFrame: (body: Buffer) => void,
    reuse: boolean,
    place?: (length: number) => Buffer | undefined,
  ): void {
    if (this.#failure !== null) throw this.#failure;
    try {
      this.#push(
        Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
        onFrame,
        reuse,
        place,
      );
    } catch (err) {
      if (err instanceof FrameCallbackError) {
        this.#failure = new FerryError('INTERNAL', 'a frame consumer failed; the stream is no longer framed');
        throw err.inner;
      }
      // Only our own length checks throw here; anything else would be a bug, kept coded all the same.
      this.#failure =
        err instanceof FerryError ? err : new FerryError('INTERNAL', 'frame decoder failed', { cause: err });
      this.#body = null;
      this.#filled = 0;
      this.#headerByte = -1;
      throw this.#failure;
    }
  }

  #push(
    input: Buffer,
    onFrame: (body: Buffer) => void,
    reuse: boolean,
    place: ((length: number) => Buffer | undefined) | undefined,
  ): void {
    let pos = 0;
    while (pos < input.length) {
      const body = this.#body;
      if (body !== null) {
        const n = Math.min(body.length - this.#filled, input.length - pos);
        copyBytes(input.subarray(pos, pos + n), body, this.#filled);
        this.#filled += n;
        pos += n;
        if (this.#filled === body.length) {
          this.#body = null;
          this.#filled = 0;
          deliver(onFrame, body);
        }
        continue;
      }
      let length: number;
      if (this.#headerByte >= 0) {
        length = (this.#headerByte << 8) | (input[pos] as number);
        this.#headerByte = -1;
        pos += 1;
      } else if (input.length - pos >= FRAME_HEADER_BYTES) {
        length = input.readUInt16BE(pos);
        pos += FRAME_HEADER_BYTES;
      } else {
        // One byte of a length: keep it and wait for the next chunk (it was the last byte of this one).
        this.#headerByte = input[pos] as number;
        break;
      }
      this.#checkLength(length);
      if (input.length - pos >= length) {
        // The whole body is already here: hand out a view instead of copying.
        const body = input.subarray(pos, pos + length);
        pos += length;
        deliver(onFrame, body);
      } else if (reuse) {
        const placed = place?.(length);
        if (placed !== undefined && placed.length === length) this.#body = placed;
        else {
          this.#scratch ??= Buffer.allocUnsafe(this.#maxLength);
          this.#body = this.#scratch.subarray(0, length);
        }
        this.#filled = 0;
      } else {
        this.#body = Buffer.allocUnsafe(length);
        this.#filled = 0;
      }
    }
  }

  // PROTOCOL.md §4.1: a receiver MUST reject a length outside the range before buffering the body.
  #checkLength(length: number): void {
    if (length > this.#maxLength) {
      throw new FerryError('RECORD_TOO_LARGE', `frame length ${length} exceeds the limit ${this.#maxLength}`);
    }
    if (length < this.#minLength) {
      throw new FerryError(
        'MESSAGE_MALFORMED',
        `frame length ${length} is below the minimum ${this.#minLength}`,
      );
    }
  }
}

/** Carries an error thrown by a frame callback past the decoder's own failure handling. */
class FrameCallbackError extends Error {
  constructor(readonly inner: unknown) {
    super('frame callback failed');
  }
}

function deliver(onFrame: (body: Buffer) => void, body: Buffer): void {
  try {
    onFrame(body);
  } catch (err) {
    throw new FrameCallbackError(err);
  }
}

/**
 * Writes the u16 length prefix of a frame whose body is `length` bytes into `target` at `offset`, and
 * returns the number of bytes written (2). Lets a writer build header and body in one buffer, no copy.
 */
export function writeFrameHeader(length: number, target: Buffer, offset: number): number {
  if (!Number.isInteger(length) || length < 0 || length > MAX_FRAME_LENGTH) {
    throw new FerryError('RECORD_TOO_LARGE', `frame length ${length} does not fit a u16`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + FRAME_HEADER_BYTES > target.length) {
    throw new FerryError(
      'INTERNAL',
      `frame header at offset ${offset} does not fit a ${target.length}-byte buffer`,
    );
  }
  target.writeUInt16BE(length, offset);
  return FRAME_HEADER_BYTES;
}

/** Returns `body` behind its u16 length prefix, as one new buffer. */
export function encodeFrame(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  writeFrameHeader(body.length, frame, 0);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}
