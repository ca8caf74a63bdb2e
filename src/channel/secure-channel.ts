import { FerryError } from '../errors/index.js';
import { isRekeyMessage, type NonceRange, type SessionCipher } from '../crypto/index.js';
import {
  decodeMessage,
  encodeMessage,
  writeFrameHeader,
  type Message,
  type PairMessage,
} from '../protocol/index.js';
import type { FramedSocket } from './framed-socket.js';
import type { ReceiveMemory } from './receive-budget.js';
import type { ParallelOpener } from '../protocol/index.js';

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
  /**
   * Records in nonce order still to be written, once a range was reserved for sealing elsewhere: a reserved
   * run not yet written (`reserved` left), or records sealed here meanwhile, held until the run before them
   * is out (PROTOCOL.md §4.2: the peer opens records in nonce order). Empty in the common case.
   */
  readonly #order: Array<{ reserved: number } | { parts: Buffer[] }> = [];
  /** What the record opener threw, so `#open` can tell it from a socket's failure. */
  #openError: unknown;

  constructor(socket: FramedSocket, cipher: SessionCipher, remotePublicKey: Buffer, handshakeHash: Buffer) {
    this.#socket = socket;
    this.#cipher = cipher;
    this.remotePublicKey = remotePublicKey;
    this.handshakeHash = handshakeHash;
    // Records are opened as they arrive, in order (the nonce is implicit, §4.2): the ciphertext is then a
    // view of the socket's bytes or of the decoder's one reused buffer, never a buffer of its own.
    socket.startRecords((record) => this.#openHere(record));
  }

  /** Reads the records held since the handshake (`holdUntilAdmitted`), once the peer is admitted. */
  releaseRecords(): void {
    this.#socket.releaseRecords();
  }

  /**
   * From the next record on, opens and hashes received records on `opener`'s worker threads (issue 14),
   * each under the nonce it would have had here (reserved in arrival order, PROTOCOL.md §4.2); short records,
   * REKEY among them (§4.3), are still opened here at once. `receive` hands out messages in the same order
   * as before, and the first record that fails authentication ends the session with nothing after it read.
   */
  openInParallel(opener: ParallelOpener): void {
    this.#socket.openInParallel(opener, {
      reserveReceive: (count) => this.#cipher.reserveReceive(count),
      open: (record) => this.#openHere(record),
    });
  }

  /**
   * Counts the file data received against `memory` (a server's upload memory) until written, and reads
   * nothing while none is left for it (`FramedSocket.countReceived`); before `openInParallel`.
   */
  countReceived(memory: ReceiveMemory): void {
    this.#socket.countReceived(memory);
  }

  #openHere(record: Buffer): Buffer {
    try {
      return this.#cipher.open(record);
    } catch (err) {
      this.#openError = err;
      throw err;
    }
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
   * Seals `plaintexts` as consecutive records and writes them in one gathered write (a block of PUT_DATA or
   * GET_DATA): one system call and at most one wait for 'drain' per block instead of per record, and the
   * peer is woken once per block. The buffers may be reused as soon as this returns its promise. node:crypto's
   * outputs go out as they are (no copy into one buffer: measured 5 % more sender CPU); a sender collects
   * their garbage young (`collectYoungGarbage`, chunk-streamer.ts).
   */
  async sendPlaintexts(plaintexts: readonly Buffer[]): Promise<void> {
    if (this.#closed) throw this.#socket.error ?? new FerryError('CONNECTION_CLOSED', 'channel closed');
    const headers = Buffer.allocUnsafe(2 * plaintexts.length);
    const parts: Buffer[] = [];
    for (let i = 0; i < plaintexts.length; i++) {
      // PROTOCOL.md §4.3: a send key past its time bound is replaced, announced by a REKEY record first.
      if (this.#cipher.rekeyDue) parts.push(...framed(...this.#cipher.sealRekey()));
      const [body, tag] = this.#cipher.sealParts(plaintexts[i]!);
      const header = headers.subarray(2 * i, 2 * i + 2);
      writeFrameHeader(body.length + tag.length, header, 0);
      parts.push(header, body, tag);
    }
    if (!this.#writeParts(parts)) await this.#socket.drained();
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
      let plaintext: Buffer;
      try {
        plaintext = await this.#socket.nextRecord();
      } catch (err) {
        // PROTOCOL.md §4.2: a record that fails authentication ends the session; nothing more is trusted.
        // Once the opener failed, nextRecord rejects with that failure (and nothing else) after the records before it.
        if (this.#openError !== undefined || this.#socket.openFailure !== undefined) {
          this.close(err instanceof FerryError ? err : new FerryError('DECRYPT_FAILED'));
        }
        throw err;
      }
      // PROTOCOL.md §4.3: a REKEY has rekeyed the receive key inside open(), when it arrived (records are
      // opened in arrival order, so the records after it were opened under the new key); it is no session message.
      if (!isRekeyMessage(plaintext)) return plaintext;
    }
  }

  /**
   * Reserves the nonces of the next `count` records, to be sealed off the event loop (a `SealPool`) and
   * written with `writeFramed`; anything sent here meanwhile is held and written after them, in nonce order.
   * The ranges' keys are the caller's to zero.
   */
  reserveRecords(count: number): NonceRange[] {
    if (this.#closed) throw this.#socket.error ?? new FerryError('CONNECTION_CLOSED', 'channel closed');
    // PROTOCOL.md §4.3: a send key past its time bound is replaced before these nonces are taken, so the
    // reserved records are sealed under the new key. The REKEY takes the nonce after every earlier
    // reservation and is held behind them by #writeRecord, so the peer opens it exactly in nonce order.
    if (this.#cipher.rekeyDue) this.#writeRecord(...this.#cipher.sealRekey());
    const ranges = this.#cipher.reserveSend(count);
    const last = this.#order[this.#order.length - 1];
    if (last !== undefined && 'reserved' in last) last.reserved += count;
    else this.#order.push({ reserved: count });
    return ranges;
  }

  /**
   * Writes `records` framed records sealed elsewhere under the oldest reserved nonces, then whatever was
   * held behind them. Resolves once the socket took the bytes, so `framed` may then be reused.
   */
  writeFramed(framed: Buffer, records: number): Promise<void> {
    const head = this.#order[0];
    if (head === undefined || !('reserved' in head) || head.reserved < records) {
      throw new FerryError('INTERNAL', 'sealed records written without their reservation');
    }
    const written = this.#socket.writeWhole(framed);
    head.reserved -= records;
    if (head.reserved === 0) {
      this.#order.shift();
      while (this.#order.length > 0 && 'parts' in this.#order[0]!) {
        this.#socket.write(...(this.#order.shift() as { parts: Buffer[] }).parts);
      }
    }
    return written;
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
    return this.#writeParts(framed(body, tag));
  }

  /** Writes framed records' parts in one gathered write, or holds them behind reserved records. */
  #writeParts(parts: Buffer[]): boolean {
    if (this.#order.length > 0) {
      // Behind records reserved for sealing elsewhere: held until they are written (fresh buffers, safe).
      this.#order.push({ parts });
      return true;
    }
    return this.#socket.write(...parts);
  }
}

/** One sealed record's parts as they go on the wire: u16 length, ciphertext, tag (PROTOCOL.md §4.1). */
function framed(body: Buffer, tag: Buffer): Buffer[] {
  const header = Buffer.allocUnsafe(2);
  writeFrameHeader(body.length + tag.length, header, 0);
  return [header, body, tag];
}
