import { FerryError, toFerryError } from '../errors/index.js';
import { HandshakeState, SessionCipher, type KeyPair } from '../crypto/index.js';
import {
  MODE_NORMAL,
  NOISE_PROTOCOL_NAME,
  PROTOCOL_VERSION,
  decodeClientHello,
  decodePreamble,
  encodeClientHello,
  type HandshakeMode,
  encodeFrame,
  encodePreamble,
  isPreamble,
} from '../protocol/index.js';
import type { FramedSocket } from './framed-socket.js';
import { SecureChannel } from './secure-channel.js';

/** PROTOCOL.md §3.2.4: the server's default deadline from accept to handshake message 3. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

const EMPTY = Buffer.alloc(0);

export interface ClientHandshakeOptions {
  identity: KeyPair;
  /**
   * Called with the server's static key after message 2 and before message 3 reveals ours
   * (PROTOCOL.md §3.2.1). Throws to refuse the server.
   */
  verifyServer: (publicKey: Buffer) => Promise<void> | void;
  mode?: HandshakeMode;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

/** Runs the client (initiator) side of the handshake and returns the open channel. */
export async function clientHandshake(
  socket: FramedSocket,
  options: ClientHandshakeOptions,
): Promise<SecureChannel> {
  return withDeadline(socket, options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS, options.signal, async () => {
    const preamble = encodePreamble(PROTOCOL_VERSION);
    const hs = new HandshakeState({
      protocolName: NOISE_PROTOCOL_NAME,
      initiator: true,
      prologue: preamble,
      s: options.identity,
    });
    // Closing zeroes the chaining key and ephemeral key whether the handshake succeeds or fails.
    try {
      // -> e
      socket.write(preamble, encodeFrame(hs.writeMessage(EMPTY)));
      // <- e, ee, s, es
      const payload2 = hs.readMessage(await readHandshakeMessage(socket, true));
      if (payload2.length !== 0) throw new FerryError('HANDSHAKE_FAILED', 'message 2 payload must be empty');
      const serverKey = hs.remoteStaticPublicKey;
      if (!serverKey) throw new FerryError('HANDSHAKE_FAILED', 'no server static key');
      await options.verifyServer(serverKey);
      // -> s, se
      socket.write(encodeFrame(hs.writeMessage(encodeClientHello(options.mode ?? MODE_NORMAL))));
      const { send, receive } = hs.split();
      return new SecureChannel(socket, new SessionCipher(send, receive), serverKey, hs.handshakeHash);
    } finally {
      hs.close();
    }
  });
}

export interface ServerHandshakeOptions {
  identity: KeyPair;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

/**
 * Runs the server (responder) side. The returned channel has read nothing beyond message 3: the caller
 * must admit the client's key (PROTOCOL.md §3.2.2) before it receives any record.
 */
export async function serverHandshake(
  socket: FramedSocket,
  options: ServerHandshakeOptions,
): Promise<{ channel: SecureChannel; mode: HandshakeMode }> {
  return withDeadline(socket, options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS, options.signal, async () => {
    const preamble = await socket.readExactly(8);
    const { version } = decodePreamble(preamble);
    if (version !== PROTOCOL_VERSION) {
      // PROTOCOL.md §2.3: tell the client what we speak, then close.
      socket.write(encodePreamble(PROTOCOL_VERSION));
      await socket.end();
      throw new FerryError(
        'VERSION_UNSUPPORTED',
        `client speaks ${version}, server speaks ${PROTOCOL_VERSION}`,
      );
    }
    const hs = new HandshakeState({
      protocolName: NOISE_PROTOCOL_NAME,
      initiator: false,
      prologue: preamble,
      s: options.identity,
    });
    try {
      // -> e
      const payload1 = hs.readMessage(await readHandshakeMessage(socket, false));
      if (payload1.length !== 0) throw new FerryError('HANDSHAKE_FAILED', 'message 1 payload must be empty');
      // <- e, ee, s, es
      socket.write(encodeFrame(hs.writeMessage(EMPTY)));
      // -> s, se
      const mode = decodeClientHello(hs.readMessage(await readHandshakeMessage(socket, false)));
      const clientKey = hs.remoteStaticPublicKey;
      if (!clientKey) throw new FerryError('HANDSHAKE_FAILED', 'no client static key');
      const { send, receive } = hs.split();
      const channel = new SecureChannel(
        socket,
        new SessionCipher(send, receive),
        clientKey,
        hs.handshakeHash,
      );
      return { channel, mode };
    } finally {
      hs.close();
    }
  });
}

/** Reads one u16-length-prefixed handshake message; the client also recognises a server preamble (§2.3). */
async function readHandshakeMessage(socket: FramedSocket, detectPreamble: boolean): Promise<Buffer> {
  const lengthBytes = await socket.readExactly(2);
  if (detectPreamble && lengthBytes[0] === 0x46 && lengthBytes[1] === 0x45) {
    const rest = await socket.readExactly(6);
    const preamble = Buffer.concat([lengthBytes, rest]);
    if (isPreamble(preamble)) {
      const { version } = decodePreamble(preamble);
      throw new FerryError(
        'VERSION_UNSUPPORTED',
        `client speaks ${PROTOCOL_VERSION}, server speaks ${version}`,
      );
    }
    throw new FerryError('HANDSHAKE_FAILED', 'unexpected bytes in place of handshake message 2');
  }
  const length = lengthBytes.readUInt16BE(0);
  if (length === 0) throw new FerryError('HANDSHAKE_FAILED', 'empty handshake message');
  return socket.readExactly(length);
}

/** Runs `work` with a deadline and an abort signal; on any failure the socket is closed. */
async function withDeadline<T>(
  socket: FramedSocket,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const onTimeout = (): void =>
    socket.close(new FerryError('TIMEOUT', `handshake not done within ${timeoutMs} ms`));
  const onAbort = (): void => socket.close(new FerryError('ABORTED'));
  const timer = setTimeout(onTimeout, timeoutMs);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw new FerryError('ABORTED');
    return await work();
  } catch (err) {
    // A timeout or abort closed the socket first, so the pending read rejected with that error.
    const error = toFerryError(err);
    socket.close(error);
    throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
