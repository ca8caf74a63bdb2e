import { FerryError } from '../errors/index.js';
import { isRekeyMessage, type SessionCipher } from '../crypto/index.js';
import {
  decodeMessage,
  encodeMessage,
  writeFrameHeader,
  type Message,
  type PairMessage,
} from '../protocol/index.js';
import type { FramedSocket } from './framed-socket.js';

/**
 * An authenticated, encrypted session over one socket (PROTOCOL.md §4): every message becomes one
 * record sealed under the direction's cipher state. Built by `clientHandshake` / `serverHandshake`.
 */
export class SecureChannel {
  readonly #socket: FramedSocket;
  readonly #cipher: SessionCipher;
  /** The peer's long-term X25519 public key, authenticated by the handshake. */
  readonly remotePublicKey: Buffer;
  /** The Noise handshake hash: a unique binding of this session (PROTOCOL.md §3.3). */
  readonly handshakeHash: Buffer;
  #closed = false;

  constructor(socket: FramedSocket, cipher: SessionCipher, remotePublicKey: Buffer, handshakeHash: Buffer) {
    this.#socket = socket;
    this.#cipher = cipher;
    this.remotePublicKey = remotePublicKey;
    this.handshakeHash = handshakeHash;
    socket.startRecords();
  }

  /** Seals and writes one message (a pairing message too); waits only when the socket asks for backpressure. */
  async send(message: Message | PairMessage): Promise<void> {
    if (!this.#writeSealed(encodeMessage(message))) await this.#socket.drained();
  }

  /**
   * Seals and writes a message whose plaintext the caller built (the hot path for PUT_DATA: the file
   * bytes were read straight into `plaintext` after its header). `plaintext` may be reused afterwards.
   */
  async sendPlaintext(plaintext: Buffer): Promise<void> {
    if (!this.#writeSealed(plaintext)) await this.#socket.drained();
  }

  /**
   * Receives, authenticates and decodes the next message. A session's messages are read with
   * `decodeMessage`; a pairing exchange passes the protocol decoder of the message it waits for (e.g.
   * `decodePairMessage`, PROTOCOL.md §12.4), since 0x40-0x43 are no session's messages.
   */
  async receive(): Promise<Message>;
  async receive<M>(decode: (plaintext: Buffer) => M): Promise<M>;
  async receive<M>(decode?: (plaintext: Buffer) => M): Promise<M | Message> {
    const plaintext = await this.#open();
    return decode === undefined ? decodeMessage(plaintext) : decode(plaintext);
  }

  async #open(): Promise<Buffer> {
    // PROTOCOL.md §4.1: the record's length was bounded (17 to 65535) by the frame decoder before its body
    // was buffered.
    for (;;) {
      const record = await this.#socket.nextRecord();
      let plaintext: Buffer;
      try {
        plaintext = this.#cipher.open(record);
      } catch (err) {
        // PROTOCOL.md §4.2: a record that fails authentication ends the session; nothing more is trusted.
        this.close(err instanceof FerryError ? err : new FerryError('DECRYPT_FAILED'));
        throw err;
      }
      // PROTOCOL.md §4.3: a REKEY has rekeyed the receive key inside open(); it is no session message.
      if (!isRekeyMessage(plaintext)) return plaintext;
    }
  }

  /** Flushes what was written and half-closes, so the peer reads every record before the end. */
  async end(): Promise<void> {
    await this.#socket.end();
  }

  /** Closes the socket and zeroes the keys. Idempotent. */
  close(err?: FerryError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close(err);
    this.#cipher.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #writeSealed(plaintext: Buffer): boolean {
    if (this.#closed) throw this.#socket.error ?? new FerryError('CONNECTION_CLOSED', 'channel closed');
    // PROTOCOL.md §4.3: a send key past its time bound is replaced, announced by a REKEY record first.
    if (this.#cipher.rekeyDue) this.#writeRecord(...this.#cipher.sealRekey());
    return this.#writeRecord(...this.#cipher.sealParts(plaintext));
  }

  #writeRecord(body: Buffer, tag: Buffer): boolean {
    const header = Buffer.allocUnsafe(2);
    writeFrameHeader(body.length + tag.length, header, 0);
    return this.#socket.write(header, body, tag);
  }
}
