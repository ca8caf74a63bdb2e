import { Buffer } from 'node:buffer';
import type { OnReadOpts } from 'node:net';
import { FerryError } from '../errors/index.js';

/**
 * Bytes one socket read may fill. Larger than libuv's 64 KiB default, so a fast stream takes fewer reads
 * (and callbacks) per GiB; one buffer per connection, allocated once.
 */
export const REUSED_READ_BYTES = 256 * 1024;

/** What may arrive before a FramedSocket takes over (a server speaks only after the client's offer). */
const EARLY_LIMIT_BYTES = 64 * 1024;

/**
 * Socket reads into one buffer reused for every read (`net.connect({ onread })`), instead of a new 64 KiB
 * buffer per read: fewer allocations and less garbage on the receive path (issue 14). Pass `onread` to
 * `net.connect`, then hand this to `new FramedSocket(socket, reads)`.
 *
 * The bytes handed on are valid only until the sink returns (the next read overwrites them): FramedSocket
 * copies what it keeps (handshake bytes, frames not opened on arrival) and opens records in the call.
 * Node offers `onread` only where a socket is created (`net.connect`), not for a server's accepted sockets.
 */
export class ReusedReads {
  readonly onread: OnReadOpts;
  #sink: ((bytes: Buffer) => void) | undefined;
  #early: Buffer[] = [];
  #earlyBytes = 0;
  #overflow = false;

  constructor(bytes: number = REUSED_READ_BYTES) {
    this.onread = {
      buffer: Buffer.allocUnsafe(bytes),
      callback: (length: number, buffer: Uint8Array): boolean => {
        const bytes = Buffer.from(buffer.buffer, buffer.byteOffset, length);
        if (this.#sink !== undefined) this.#sink(bytes);
        else this.#keepEarly(bytes);
        return !this.#overflow;
      },
    };
  }

  /**
   * Routes every read to `sink` from now on, after the bytes (copied) that came before. Throws if more than
   * a handshake's worth came before: that peer spoke out of turn.
   */
  attach(sink: (bytes: Buffer) => void): void {
    if (this.#sink !== undefined) throw new FerryError('INTERNAL', 'reused reads attached twice');
    if (this.#overflow) {
      throw new FerryError('MESSAGE_MALFORMED', `more than ${EARLY_LIMIT_BYTES} bytes before the handshake`);
    }
    this.#sink = sink;
    const early = this.#early;
    this.#early = [];
    for (const piece of early) sink(piece);
  }

  #keepEarly(bytes: Buffer): void {
    this.#earlyBytes += bytes.length;
    if (this.#earlyBytes > EARLY_LIMIT_BYTES) {
      // Stops reading (the callback returns false); `attach` refuses the connection.
      this.#overflow = true;
      this.#early = [];
      return;
    }
    this.#early.push(Buffer.from(bytes));
  }
}
