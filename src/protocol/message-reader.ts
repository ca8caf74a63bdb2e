import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';

// PROTOCOL.md §1: a `str` MUST be valid UTF-8. `ignoreBOM` keeps a leading U+FEFF as a character instead of
// silently dropping it, so the string decoded is exactly the bytes sent.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// u64 values are carried as two u32 halves; anything above 2^53-1 cannot be a JS number exactly.
const MAX_SAFE_HIGH_WORD = Math.floor(Number.MAX_SAFE_INTEGER / 2 ** 32);

/**
 * A bounded cursor over one message's bytes. Every read checks that the bytes are there and throws
 * MESSAGE_MALFORMED naming the message and field otherwise, so decoders read like the layout tables of
 * PROTOCOL.md §5 and can never read past the end.
 */
export class MessageReader {
  readonly #bytes: Buffer;
  readonly #context: string;
  #offset = 0;

  /** `context` names the message in error details (`put_offer`). */
  constructor(bytes: Buffer, context: string) {
    this.#bytes = bytes;
    this.#context = context;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** Reads a u8. */
  u8(field: string): number {
    this.#need(1, field);
    const value = this.#bytes.readUInt8(this.#offset);
    this.#offset += 1;
    return value;
  }

  /** Reads a big-endian u16. */
  u16(field: string): number {
    this.#need(2, field);
    const value = this.#bytes.readUInt16BE(this.#offset);
    this.#offset += 2;
    return value;
  }

  /** Reads a big-endian u32. */
  u32(field: string): number {
    this.#need(4, field);
    const value = this.#bytes.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  /** Reads a big-endian u64, refusing values above Number.MAX_SAFE_INTEGER. */
  u64(field: string): number {
    this.#need(8, field);
    const high = this.#bytes.readUInt32BE(this.#offset);
    const low = this.#bytes.readUInt32BE(this.#offset + 4);
    if (high > MAX_SAFE_HIGH_WORD) {
      const value = (BigInt(high) << 32n) | BigInt(low);
      throw this.fail(`${field} ${value} exceeds ${Number.MAX_SAFE_INTEGER}`);
    }
    this.#offset += 8;
    return high * 2 ** 32 + low;
  }

  /** Reads `length` raw bytes as a copy, so the result does not pin the record's buffer. */
  copy(length: number, field: string): Buffer {
    this.#need(length, field);
    const value = Buffer.from(this.#bytes.subarray(this.#offset, this.#offset + length));
    this.#offset += length;
    return value;
  }

  /** Reads a `str` (u16 length, UTF-8 bytes) of at most `maxBytes` bytes (PROTOCOL.md §1). */
  str(maxBytes: number, field: string): string {
    const length = this.u16(`${field} length`);
    if (length > maxBytes) throw this.fail(`${field} is ${length} bytes, limit ${maxBytes}`);
    this.#need(length, field);
    const bytes = this.#bytes.subarray(this.#offset, this.#offset + length);
    let value: string;
    try {
      value = UTF8.decode(bytes);
    } catch {
      throw this.fail(`${field} is not valid utf-8`);
    }
    this.#offset += length;
    return value;
  }

  /** Returns every byte not read yet as a view of the input (no copy). */
  rest(): Buffer {
    const value = this.#bytes.subarray(this.#offset);
    this.#offset = this.#bytes.length;
    return value;
  }

  /** Checks that the whole message was read: PROTOCOL.md §5 rejects bodies longer than the layout. */
  end(): void {
    if (this.remaining !== 0) {
      throw this.fail(`expected ${this.#offset} bytes, got ${this.#bytes.length}`);
    }
  }

  /** Builds a MESSAGE_MALFORMED error naming this message. */
  fail(detail: string): FerryError {
    return new FerryError('MESSAGE_MALFORMED', `${this.#context}: ${detail}`);
  }

  #need(length: number, field: string): void {
    if (this.remaining < length) {
      throw this.fail(`truncated at ${field}: expected ${length} more bytes, got ${this.remaining}`);
    }
  }
}
