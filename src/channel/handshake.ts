import { FerryError, toFerryError } from '../errors/index.js';
import {
  HandshakeState,
  SessionCipher,
  type KemKeyPair,
  type KeyPair,
  type SplitCipherStates,
} from '../crypto/index.js';
import {
  DEFAULT_PORT,
  MODE_NORMAL,
  NOISE_PROTOCOL_NAME,
  PREAMBLE_BYTES,
  PROTOCOL_VERSION,
  VERSION_ANSWER_BYTES,
  VERSION_OFFER_BYTES,
  chooseVersion,
  decodeClientHello,
  decodeEmptyHello,
  decodePreamble,
  decodeVersionOffer,
  encodeClientHello,
  encodeEmptyHello,
  type HandshakeMode,
  encodeFrame,
  encodePreamble,
  encodeVersionOffer,
  versionPrologue,
  type VersionOffer,
} from '../protocol/index.js';
import type { FramedSocket } from './framed-socket.js';
import { SecureChannel } from './secure-channel.js';

/** PROTOCOL.md §3.2.4: the server's default deadline from accept to handshake message 3. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The versions this build speaks: exactly one (PROTOCOL.md §2.1, §11). */
const SUPPORTED: VersionOffer = { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION };

export interface ClientHandshakeOptions {
  identity: KeyPair;
  /**
   * Called with the server's static key after message 2 and before message 3 reveals ours
   * (PROTOCOL.md §3.2.1). Throws to refuse the server. `timeoutMs` stops counting when it is called: it may
   * wait on a person (the trust prompt), and what remains after it is one write.
   */
  verifyServer: (publicKey: Buffer) => Promise<void> | void;
  mode?: HandshakeMode;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  /** The session keys' time bound (PROTOCOL.md §4.3); tests inject a clock and a short interval. */
  rekey?: RekeyClock;
  /**
   * The fresh ML-KEM key pair of message 1's `e1`, made by the caller for this handshake alone (while its
   * connect was in flight: `openClientChannel`); made here when omitted. The handshake owns it: it is zeroed
   * when the handshake ends, completed or failed.
   */
  kemKeyPair?: KemKeyPair;
}

/** The clock and interval of the time-bound rekey (PROTOCOL.md §4.3). */
export interface RekeyClock {
  /** Monotonic milliseconds; default `performance.now`. */
  now?: () => number;
  /** Default REKEY_INTERVAL_MS (2 minutes). */
  intervalMs?: number;
}

/** The session cipher of a completed handshake, with the time-bound rekey on a monotonic clock (§4.3). */
function sessionCipher(split: SplitCipherStates, rekey: RekeyClock | undefined): SessionCipher {
  return new SessionCipher(split.send, split.receive, {
    now: rekey?.now ?? (() => performance.now()),
    ...(rekey?.intervalMs === undefined ? {} : { rekeyIntervalMs: rekey.intervalMs }),
  });
}

/** Runs the client (initiator) side of the handshake and returns the open channel. */
export async function clientHandshake(
  socket: FramedSocket,
  options: ClientHandshakeOptions,
): Promise<SecureChannel> {
  const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  try {
    return await clientHandshakeWithin(socket, timeoutMs, options);
  } finally {
    // The HandshakeState zeroes it once it has it; this covers a failure before it does (an abort).
    options.kemKeyPair?.close();
  }
}

async function clientHandshakeWithin(
  socket: FramedSocket,
  timeoutMs: number,
  options: ClientHandshakeOptions,
): Promise<SecureChannel> {
  return withDeadline(socket, timeoutMs, options.signal, async (stopDeadline) => {
    // PROTOCOL.md §2: offer the one version this build speaks. The client sends message 1 at once, built for
    // the answer it expects (its highest offered version, §2.6), so negotiation costs no round trip. Any other
    // answer is refused before message 2 is read, so the prologue holds the answer received (§2.5).
    const offer = encodeVersionOffer(SUPPORTED);
    const expectedAnswer = encodePreamble(SUPPORTED.max);
    const hs = new HandshakeState({
      protocolName: NOISE_PROTOCOL_NAME,
      initiator: true,
      prologue: versionPrologue(offer, expectedAnswer),
      s: options.identity,
      ...(options.kemKeyPair === undefined ? {} : { e1: options.kemKeyPair }),
    });
    // Closing zeroes the chaining key and ephemeral keys whether the handshake succeeds or fails.
    try {
      // -> e, e1
      socket.write(offer, encodeFrame(hs.writeMessage(encodeEmptyHello())));
      // PROTOCOL.md §2.3: the server's answer comes before message 2. A version outside the offer (a version 1
      // server's refusal, or a server that speaks nothing we offered) is VERSION_UNSUPPORTED; the client does
      // not retry with a lower offer (§2.4). A v2 client offers one version, so any other answer is refused.
      const answer = decodePreamble(await readAnswer(socket));
      if (answer.version !== SUPPORTED.max) {
        throw new FerryError(
          'VERSION_UNSUPPORTED',
          `client speaks ${SUPPORTED.max}, server speaks ${answer.version}`,
        );
      }
      // <- e, ee, ekem1, s, es
      decodeEmptyHello(hs.readMessage(await readHandshakeMessage(socket)));
      const serverKey = hs.remoteStaticPublicKey;
      if (!serverKey) throw new FerryError('HANDSHAKE_FAILED', 'no server static key');
      // The deadline bounds the network, not a person reading an ID at the trust prompt: the network's part
      // is over (message 3 is one write), and a deadline that ran on would close the connection under the
      // user's answer.
      stopDeadline();
      await options.verifyServer(serverKey);
      // -> s, se
      socket.write(encodeFrame(hs.writeMessage(encodeClientHello(options.mode ?? MODE_NORMAL))));
      const cipher = sessionCipher(hs.split(), options.rekey);
      return new SecureChannel(socket, cipher, serverKey, hs.handshakeHash);
    } finally {
      hs.close();
    }
  });
}

export interface ServerHandshakeOptions {
  identity: KeyPair;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  /** The session keys' time bound (PROTOCOL.md §4.3). */
  rekey?: RekeyClock;
  /**
   * A normal session's records are held unread until the caller admits the key (`SecureChannel.releaseRecords`,
   * PROTOCOL.md §3.2.2); a pairing's are read at once (its exchange is records).
   */
  holdUntilAdmitted?: boolean;
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
    // PROTOCOL.md §2: the offer's first 8 bytes have version 1's layout, its highest version where version 1
    // put its only one, so a version 1 client is refused here without reading further (§2.3).
    const head = await socket.readExactly(PREAMBLE_BYTES);
    const { version: offeredMax } = decodePreamble(head);
    if (offeredMax < SUPPORTED.min) return refuseVersion(socket, `up to ${offeredMax}`);
    const offerBytes = Buffer.concat([head, await socket.readExactly(VERSION_OFFER_BYTES - PREAMBLE_BYTES)]);
    const offer = decodeVersionOffer(offerBytes);
    const version = chooseVersion(offer, SUPPORTED);
    if (version === null) return refuseVersion(socket, `${offer.min} to ${offer.max}`);
    const answer = encodePreamble(version);
    const hs = new HandshakeState({
      protocolName: NOISE_PROTOCOL_NAME,
      initiator: false,
      prologue: versionPrologue(offerBytes, answer),
      s: options.identity,
    });
    try {
      // -> e, e1
      decodeEmptyHello(hs.readMessage(await readHandshakeMessage(socket)));
      // <- e, ee, ekem1, s, es (after the answer, which states the chosen version: §2.3)
      socket.write(answer, encodeFrame(hs.writeMessage(encodeEmptyHello())));
      // -> s, se
      const mode = decodeClientHello(hs.readMessage(await readHandshakeMessage(socket)));
      const clientKey = hs.remoteStaticPublicKey;
      if (!clientKey) throw new FerryError('HANDSHAKE_FAILED', 'no client static key');
      if (options.holdUntilAdmitted === true && mode === MODE_NORMAL) socket.holdRecords();
      const channel = new SecureChannel(
        socket,
        sessionCipher(hs.split(), options.rekey),
        clientKey,
        hs.handshakeHash,
      );
      return { channel, mode };
    } finally {
      hs.close();
    }
  });
}

/** PROTOCOL.md §2.3: answer with the version we speak, then close; the session fails VERSION_UNSUPPORTED. */
async function refuseVersion(socket: FramedSocket, offered: string): Promise<never> {
  socket.write(encodePreamble(SUPPORTED.max));
  await socket.end();
  throw new FerryError('VERSION_UNSUPPORTED', `client speaks ${offered}, server speaks ${SUPPORTED.max}`);
}

/** Reads the server's 8-byte version answer (PROTOCOL.md §2.3); anything but `FERRY\0` fails the handshake. */
async function readAnswer(socket: FramedSocket): Promise<Buffer> {
  const answer = await socket.readExactly(VERSION_ANSWER_BYTES);
  try {
    decodePreamble(answer);
  } catch {
    // Dialled by mistake, a web server (the dashboard's port, say) answers the binary offer with an HTTP
    // error, and an SSH server greets with its banner (scp's habit: HOST:22): say so, since "no version
    // answer" alone sends the user looking for a protocol bug.
    const head = answer.toString('latin1');
    const [detail, hint] = head.startsWith('HTTP/')
      ? ['an HTTP server answered, not a ferry server', 'check the port (the dashboard has its own)']
      : head.startsWith('SSH-')
        ? [
            'an SSH server answered, not a ferry server',
            `check the port (ferry's is ${DEFAULT_PORT} unless its server chose another)`,
          ]
        : ['no version answer where the server must send one', 'is this a ferry server?'];
    throw new FerryError('HANDSHAKE_FAILED', detail, { hint });
  }
  return answer;
}

/** Reads one u16-length-prefixed handshake message (PROTOCOL.md §3.1). */
async function readHandshakeMessage(socket: FramedSocket): Promise<Buffer> {
  const lengthBytes = await socket.readExactly(2);
  const length = lengthBytes.readUInt16BE(0);
  if (length === 0) throw new FerryError('HANDSHAKE_FAILED', 'empty handshake message');
  return socket.readExactly(length);
}

/**
 * Runs `work` with a deadline and an abort signal; on any failure the socket is closed. `work` may stop the
 * deadline (`stopDeadline`) once nothing it still does waits on the peer; the signal still applies.
 */
async function withDeadline<T>(
  socket: FramedSocket,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  work: (stopDeadline: () => void) => Promise<T>,
): Promise<T> {
  const onTimeout = (): void =>
    socket.close(new FerryError('TIMEOUT', `handshake not done within ${timeoutMs} ms`));
  const onAbort = (): void => socket.close(new FerryError('ABORTED'));
  const timer = setTimeout(onTimeout, timeoutMs);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw new FerryError('ABORTED');
    return await work(() => clearTimeout(timer));
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
