import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { FerryError, toFerryError } from '../errors/index.js';
import { shortFerryId, type KeyPair } from '../crypto/index.js';
import { FramedSocket, MODE_NORMAL, serverHandshake, type SecureChannel } from '../channel/index.js';
import {
  MAX_DETAIL_BYTES,
  PERMISSION_UPLOAD,
  parseRemotePath,
  type Message,
  type PutOfferMessage,
} from '../protocol/index.js';
import { PartialTransfer, resolveUnderRoot, type RootPath } from '../transfer/index.js';
import type { TransferClaim, TransferRegistry } from './transfer-registry.js';
import { transferIdOf } from './transfer-id.js';

/** What the allow-list grants an admitted client. */
export interface ClientGrant {
  readonly name?: string | undefined;
  /** PERMISSION_UPLOAD | PERMISSION_DOWNLOAD bits. */
  readonly permissions: number;
  /** Remote path prefix the client is confined to (already validated), or undefined for the whole root. */
  readonly root?: string | undefined;
}

/** Looks a client key up in the allow-list; undefined refuses it. */
export type Authorize = (publicKey: Buffer) => ClientGrant | undefined | Promise<ClientGrant | undefined>;

/** What one server session needs from its server. */
export interface SessionContext {
  readonly root: string;
  readonly partialDir: string;
  readonly identity: KeyPair;
  readonly authorize: Authorize;
  readonly registry: TransferRegistry;
  readonly logger: Logger;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxFileBytes: number;
  readonly durableBatchBytes: number | undefined;
}

interface ActiveTransfer {
  readonly ref: number;
  readonly transferId: string;
  readonly partial: PartialTransfer;
  readonly target: RootPath;
  readonly offer: PutOfferMessage;
  readonly startedAt: number;
  receivedBytes: number;
}

/** Error categories that end one transfer but leave the session open (PROTOCOL.md §5.1). */
const TRANSFER_SCOPED = new Set(['trust', 'path', 'transfer', 'storage']);

/**
 * Serves one session: handshake, admission before anything else (PROTOCOL.md §3.2.2), then the
 * transfers the client offers, one at a time.
 */
export class ServerSession implements TransferClaim {
  readonly #ctx: SessionContext;
  readonly #socket: Socket;
  readonly #framed: FramedSocket;
  readonly #log: Logger;
  #channel: SecureChannel | undefined;
  #grant: ClientGrant | undefined;
  #active: ActiveTransfer | undefined;
  /** Refs whose transfer failed here: their remaining in-flight messages are discarded (PROTOCOL.md §5.1). */
  readonly #failedRefs = new Set<number>();
  #bytes = 0;
  #files = 0;

  constructor(ctx: SessionContext, socket: Socket) {
    this.#ctx = ctx;
    this.#socket = socket;
    this.#framed = new FramedSocket(socket);
    this.#log = ctx.logger.child({ remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` });
  }

  /** Runs the session to its end; never throws (every failure is logged and closes the socket). */
  async run(signal: AbortSignal): Promise<void> {
    const startedAt = Date.now();
    let result = 'ok';
    try {
      const { channel, mode } = await serverHandshake(this.#framed, {
        identity: this.#ctx.identity,
        timeoutMs: this.#ctx.handshakeTimeoutMs,
        signal,
      });
      this.#channel = channel;
      const peer = shortFerryId(channel.remotePublicKey);
      this.#log.setBindings({ peer });
      const grant = mode === MODE_NORMAL ? await this.#ctx.authorize(channel.remotePublicKey) : undefined;
      if (!grant) {
        // PROTOCOL.md §3.2.2: refuse before reading a single record.
        result = 'CLIENT_NOT_ALLOWED';
        this.#log.warn({ code: 'CLIENT_NOT_ALLOWED' }, 'client refused');
        await this.#sendError(0, new FerryError('CLIENT_NOT_ALLOWED'));
        await channel.end();
        return;
      }
      this.#grant = grant;
      this.#log.setBindings(grant.name ? { client: grant.name } : {});
      this.#socket.setTimeout(this.#ctx.idleTimeoutMs, () =>
        channel.close(new FerryError('TIMEOUT', `idle for ${this.#ctx.idleTimeoutMs} ms`)),
      );
      await channel.send({ type: 'WELCOME', permissions: grant.permissions, maxFileBytes: this.#ctx.maxFileBytes });
      for (;;) await this.#handle(await channel.receive());
    } catch (err) {
      const error = toFerryError(err);
      if (error.code === 'CONNECTION_CLOSED' && this.#channel && !this.#active) {
        result = 'ok';
      } else {
        result = error.code;
        if (error.wireCode !== null && this.#channel && !this.#channel.closed && error.category === 'protocol') {
          await this.#sendError(0, error).catch(() => undefined);
        }
      }
    } finally {
      await this.#closeActive();
      this.#channel?.close();
      this.#framed.close();
      this.#log.info(
        { event: 'session', result, files: this.#files, bytes: this.#bytes, durationMs: Date.now() - startedAt },
        'session closed',
      );
    }
  }

  async #handle(message: Message): Promise<void> {
    if ('ref' in message && this.#failedRefs.has(message.ref)) {
      if (message.type === 'PUT_END') this.#failedRefs.delete(message.ref);
      return;
    }
    switch (message.type) {
      case 'PUT_OFFER':
        return this.#guard(message.ref, () => this.#offer(message));
      case 'PUT_DATA': {
        const active = this.#expectActive(message.ref, message.type);
        return this.#guard(message.ref, async () => {
          await active.partial.writeData(message.offset, message.data);
          active.receivedBytes += message.data.length;
          this.#bytes += message.data.length;
        });
      }
      case 'PUT_CHUNK': {
        const active = this.#expectActive(message.ref, message.type);
        return this.#guard(message.ref, () => active.partial.completeChunk(message.index, message.chunkHash));
      }
      case 'PUT_END': {
        const active = this.#expectActive(message.ref, message.type);
        return this.#guard(message.ref, () => this.#finish(active, message.fileDigest));
      }
      default:
        throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} from a client`);
    }
  }

  async #offer(offer: PutOfferMessage): Promise<void> {
    // PROTOCOL.md §6.2: one transfer receives data at a time per session.
    if (this.#active) throw new FerryError('MESSAGE_UNEXPECTED', `PUT_OFFER while transfer ${this.#active.ref} is open`);
    const grant = this.#grant!;
    if ((grant.permissions & PERMISSION_UPLOAD) === 0) throw new FerryError('PERMISSION_DENIED', 'upload not granted');
    if (this.#ctx.maxFileBytes > 0 && offer.size > this.#ctx.maxFileBytes) {
      throw new FerryError('FILE_TOO_LARGE', `${offer.size} bytes, limit ${this.#ctx.maxFileBytes}`);
    }
    const components = parseRemotePath(offer.path);
    const rooted = grant.root ? [...parseRemotePath(grant.root), ...components] : components;
    const target = await resolveUnderRoot(this.#ctx.root, rooted, { createDirs: true });
    if (!offer.overwrite && target.exists) throw new FerryError('FILE_EXISTS');
    const transferId = transferIdOf(this.#channel!.remotePublicKey, rooted.join('/'));
    await this.#ctx.registry.claim(transferId, this);
    let partial: PartialTransfer;
    try {
      partial = await PartialTransfer.open({
        dataPath: join(this.#ctx.partialDir, `${transferId}.part`),
        logPath: join(this.#ctx.partialDir, `${transferId}.state`),
        size: offer.size,
        mtimeMs: offer.mtimeMs,
        chunkBytes: offer.chunkBytes,
        fresh: offer.fresh,
        durableBatchBytes: this.#ctx.durableBatchBytes,
        onDurable: (verifiedBytes) => {
          void this.#channel?.send({ type: 'PROGRESS', ref: offer.ref, verifiedBytes }).catch(() => undefined);
        },
      });
    } catch (err) {
      this.#ctx.registry.release(transferId, this);
      throw err;
    }
    this.#active = { ref: offer.ref, transferId, partial, target, offer, startedAt: Date.now(), receivedBytes: 0 };
    this.#log.info(
      { event: 'transfer-start', ref: offer.ref, size: offer.size, heldBytes: partial.verifiedBytes, restarted: partial.restarted },
      'transfer started',
    );
    await this.#channel!.send({
      type: 'PUT_ACCEPT',
      ref: offer.ref,
      restarted: partial.restarted,
      haveDigest: partial.heldDigest(),
      ranges: partial.heldRanges(),
    });
  }

  async #finish(active: ActiveTransfer, expectedDigest: Buffer): Promise<void> {
    const digest = await active.partial.finish(expectedDigest, active.target, {
      mode: active.offer.mode,
      overwrite: active.offer.overwrite,
    });
    this.#active = undefined;
    this.#ctx.registry.release(active.transferId, this);
    this.#files++;
    this.#log.info(
      {
        event: 'transfer-done',
        ref: active.ref,
        size: active.offer.size,
        receivedBytes: active.receivedBytes,
        digest: digest.toString('hex').slice(0, 16),
        durationMs: Date.now() - active.startedAt,
      },
      'transfer verified',
    );
    await this.#channel!.send({ type: 'PUT_DONE', ref: active.ref, fileDigest: digest });
  }

  /** Called by the registry when a newer session of this client offers the transfer we are writing. */
  async surrender(): Promise<void> {
    const active = this.#active;
    if (!active) return;
    this.#failedRefs.add(active.ref);
    await this.#closeActive();
    this.#log.info({ event: 'transfer-taken-over', ref: active.ref }, 'transfer taken over by a newer session');
    await this.#sendError(active.ref, new FerryError('TRANSFER_TAKEN_OVER')).catch(() => undefined);
  }

  #expectActive(ref: number, type: string): ActiveTransfer {
    const active = this.#active;
    if (!active || active.ref !== ref) throw new FerryError('MESSAGE_UNEXPECTED', `${type} for ref ${ref}, which is not open`);
    return active;
  }

  /** Runs a transfer step; a transfer-scoped failure becomes an ERROR for that ref, anything else ends the session. */
  async #guard(ref: number, step: () => void | Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      const error = toFerryError(err);
      if (this.#failedRefs.has(ref)) return; // already ended (taken over) while this step ran
      if (!TRANSFER_SCOPED.has(error.category)) throw error;
      this.#log.warn({ event: 'transfer-failed', ref, code: error.code }, 'transfer refused');
      if (this.#active?.ref === ref) await this.#closeActive();
      this.#failedRefs.add(ref);
      await this.#sendError(ref, error);
    }
  }

  async #closeActive(): Promise<void> {
    const active = this.#active;
    if (!active) return;
    this.#active = undefined;
    try {
      await active.partial.close();
    } catch (err) {
      this.#log.warn({ code: toFerryError(err).code }, 'could not close partial');
    } finally {
      this.#ctx.registry.release(active.transferId, this);
    }
  }

  async #sendError(ref: number, error: FerryError): Promise<void> {
    // PROTOCOL.md §5.1: the wire gets the code and the coded message only, never a path or a stack.
    const wire = error.wireCode ?? 0xffff;
    const detail = error.wireCode === null || error.category === 'internal' ? '' : truncateUtf8(error.detail ?? '', MAX_DETAIL_BYTES);
    await this.#channel?.send({ type: 'ERROR', ref, code: wire, detail });
  }
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}
