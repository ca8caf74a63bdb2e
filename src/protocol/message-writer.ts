import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';

// A lone surrogate has no UTF-8 form: Buffer would silently write U+FFFD, and the peer would then read a
// different string than the one we meant to send.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Encodes `text` as UTF-8, refusing strings that have no exact UTF-8 form (lone surrogates). Throws
 * `code` (MESSAGE_MALFORMED unless told otherwise) with `field` in the detail.
 */
export function encodeUtf8(
  text: string,
  field: string,
  code: 'MESSAGE_MALFORMED' | 'PATH_INVALID' = 'MESSAGE_MALFORMED',
): Buffer {
  if (LONE_SURROGATE.test(text))
    throw new FerryError(code, `${field} contains a lone surrogate, not valid utf-8`);
  return Buffer.from(text, 'utf8');
}

/**
 * A cursor that fills a buffer of a size fixed up front. Every write checks that its value fits its wire
 * type and throws MESSAGE_MALFORMED naming the message and field, so an encoder can never put on the wire
 * what the decoder would refuse.
 */
export class MessageWriter {
  readonly #bytes: Buffer;
  readonly #context: string;
  #offset = 0;

  /** `length` is the exact size of the message; `context` names it in error details (`put_offer`). */
  constructor(length: number, context: string) {
    this.#bytes = Buffer.allocUnsafe(length);
    this.#context = context;
  }

  /** Writes a u8. */
  u8(value: number, field: string): this {
    this.#checkInteger(value, 0xff, field);
    this.#room(1, field);
    this.#offset = this.#bytes.writeUInt8(value, this.#offset);
    return this;
  }

  /** Writes a big-endian u16. */
  u16(value: number, field: string): this {
    this.#checkInteger(value, 0xffff, field);
    this.#room(2, field);
    this.#offset = this.#bytes.writeUInt16BE(value, this.#offset);
    return this;
  }

  /** Writes a big-endian u32. */
  u32(value: number, field: string): this {
    this.#checkInteger(value, 0xffffffff, field);
    this.#room(4, field);
    this.#offset = this.#bytes.writeUInt32BE(value, this.#offset);
    return this;
  }

  /** Writes a big-endian u64 from a safe integer. */
  u64(value: number, field: string): this {
    this.#checkInteger(value, Number.MAX_SAFE_INTEGER, field);
    this.#room(8, field);
    this.#bytes.writeUInt32BE(Math.floor(value / 2 ** 32), this.#offset);
    this.#bytes.writeUInt32BE(value % 2 ** 32, this.#offset + 4);
    this.#offset += 8;
    return this;
  }

  /** Writes raw bytes, which must be exactly `length` long. */
  fixed(value: Uint8Array, length: number, field: string): this {
    if (value.length !== length) throw this.fail(`${field} must be ${length} bytes, got ${value.length}`);
    return this.raw(value);
  }

  /** Writes raw bytes as they are. */
  raw(value: Uint8Array): this {
    this.#room(value.length, 'bytes');
    this.#bytes.set(value, this.#offset);
    this.#offset += value.length;
    return this;
  }

  /** Writes a `str` (u16 length, then the bytes) from already-encoded UTF-8 of at most `maxBytes` bytes. */
  str(utf8: Uint8Array, maxBytes: number, field: string): this {
    if (utf8.length > maxBytes) throw this.fail(`${field} is ${utf8.length} bytes, limit ${maxBytes}`);
    return this.u16(utf8.length, `${field} length`).raw(utf8);
  }

  /** Returns the message once every byte was written. */
  finish(): Buffer {
    if (this.#offset !== this.#bytes.length) {
      // A size computed wrongly by an encoder: a bug here, never the caller's input.
      throw new FerryError(
        'INTERNAL',
        `${this.#context}: wrote ${this.#offset} of ${this.#bytes.length} bytes`,
      );
    }
    return this.#bytes;
  }

  /** Builds a MESSAGE_MALFORMED error naming this message. */
  fail(detail: string): FerryError {
    return new FerryError('MESSAGE_MALFORMED', `${this.#context}: ${detail}`);
  }

  // An encoder that sized its buffer wrongly is a bug here, never the caller's input: INTERNAL, not a RangeError.
  #room(length: number, field: string): void {
    if (this.#offset + length > this.#bytes.length) {
      throw new FerryError(
        'INTERNAL',
        `${this.#context}: no room for ${field} at ${this.#offset} of ${this.#bytes.length}`,
      );
    }
  }

  #checkInteger(value: number, max: number, field: string): void {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw this.fail(`${field} must be an integer from 0 to ${max}, got ${value}`);
    }
  }
}
