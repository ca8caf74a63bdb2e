import { FerryError, codeFromWire, toFerryError } from '../errors/index.js';
import { formatFerryId, parsePairingCode, type KeyPair, type PairingCode } from '../crypto/index.js';
import { FramedSocket, MODE_PAIRING, clientHandshake, type SecureChannel } from '../channel/index.js';
import {
  MESSAGE_TYPE_CODES,
  decodeMessage,
  decodePairMessage,
  type PairMessageOfType,
} from '../protocol/index.js';
import type { PairingClient } from '../machines/pairing-client.js';
import { CONNECT_TIMEOUT_MS, connectSocket } from './connect-socket.js';
import type { ServerAddress } from './server-address.js';

/** The client's deadline for the pairing exchange after the handshake (PAIR_HELLO to PAIR_DONE). */
export const PAIRING_TIMEOUT_MS = 10_000;

/** Options of {@link pairWithServer}. */
export interface PairWithServerOptions {
  server: ServerAddress;
  identity: KeyPair;
  /** The code from the server's operator; a string is parsed before connecting (PAIRING_CODE_INVALID). */
  code: PairingCode | string;
  /**
   * Called with the server's static key after handshake message 2, before message 3 reveals ours. Throws to
   * refuse: a pin for this address that differs (SERVER_KEY_CHANGED, PROTOCOL.md §12.6 step 2). An unknown
   * key must be let through: the code authenticates it.
   */
  verifyServer: (publicKey: Buffer) => Promise<void> | void;
  /** Called once the server proved the same code (PAIR_DONE verified) and not before: pin its key here. */
  onPaired: (serverPublicKey: Buffer) => Promise<void> | void;
  /**
   * Called, after `onPaired`, with the server's KEY_COMMIT (PROTOCOL.md §13.2) when the pairing session
   * carries one after its WELCOME: record the commitment with the new pin here, as a first normal session
   * would. Not called when the server has no next key prepared, or sends KEY_ROTATE (§13.2: a rotation under
   * way moves no pin that has no commitment recorded; it is left for a later session, §13.4).
   */
  onKeyCommit?: (commitment: Buffer, serverPublicKey: Buffer) => Promise<void> | void;
  connectTimeoutMs?: number | undefined;
  handshakeTimeoutMs?: number | undefined;
  /** Deadline of the exchange after the handshake; default {@link PAIRING_TIMEOUT_MS}. */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** The random source for CPace, injected by tests. */
  random?: (bytes: number) => Uint8Array;
}

/** A finished pairing. */
export interface PairingOutcome {
  /** The server's static key, now authenticated by the code (and pinned by `onPaired`). */
  readonly serverPublicKey: Buffer;
  /** Its ferry ID (PROTOCOL.md §3.4). */
  readonly serverId: string;
  /** The permission bits of the WELCOME that follows PAIR_DONE, or undefined when none arrived. */
  readonly permissions: number | undefined;
}

/**
 * Pairs this client with a server using a one-time code (PROTOCOL.md §12.6): a Noise XX handshake in mode 1,
 * then CPace and key confirmation over encrypted records. Afterwards the server has allow-listed this
 * client and `onPaired` has pinned the server. A server that refuses answers with an ERROR, thrown here as
 * its coded error (PAIRING_FAILED for a wrong, expired or used code, SERVER_BUSY when at its limit).
 */
export async function pairWithServer(options: PairWithServerOptions): Promise<PairingOutcome> {
  const { signal } = options;
  // §12.6 step 1: a typo is caught here, before connecting, so it never voids the invite.
  const owned = typeof options.code === 'string' ? parsePairingCode(options.code) : undefined;
  const code = owned ?? (options.code as PairingCode);
  // Loaded here, not at the top: the pairing exchange brings CPace's group (@noble/curves, ~25 ms of CPU), and
  // this file is reached through the client barrel by every command, of which only `ferry pair` pairs (issue 14).
  const { PairingClient } = await import('../machines/pairing-client.js');
  let channel: SecureChannel | undefined;
  let pairing: PairingClient | undefined;
  try {
    const socket = await connectSocket(
      options.server,
      options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      signal,
    );
    channel = await clientHandshake(new FramedSocket(socket), {
      identity: options.identity,
      verifyServer: options.verifyServer,
      mode: MODE_PAIRING,
      timeoutMs: options.handshakeTimeoutMs,
      signal,
    });
    const open = channel;
    const serverPublicKey = open.remotePublicKey;
    pairing = new PairingClient({
      sid: open.handshakeHash,
      clientStaticKey: options.identity.publicKey,
      serverStaticKey: serverPublicKey,
      code,
      ...(options.random === undefined ? {} : { random: options.random }),
    });
    owned?.dispose();
    const timeoutMs = options.timeoutMs ?? PAIRING_TIMEOUT_MS;
    const onAbort = (): void => open.close(new FerryError('ABORTED'));
    const timer = setTimeout(
      () => open.close(new FerryError('TIMEOUT', `pairing not done within ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) throw new FerryError('ABORTED');
      // §12.6 step 3: PAIR_HELLO right after message 3.
      await open.send(pairing.start());
      // Step 4: PAIR_REPLY (or the server's ERROR) -> PAIR_CONFIRM.
      const confirm = pairing.receive(await receivePairingMessage(open, 'PAIR_REPLY'));
      await open.send(confirm.send!);
      // Step 5: PAIR_DONE proves the server knows the code; only then is its key pinned.
      const done = pairing.receive(await receivePairingMessage(open, 'PAIR_DONE'));
      if (!done.done) throw new FerryError('INTERNAL', 'pairing did not finish');
      done.result.dispose();
      await options.onPaired(serverPublicKey);
      // The server then treats the session as admitted (§12.5 step 6); its WELCOME tells what we may do.
      const welcome = await open.receive().then(
        (message) => (message.type === 'WELCOME' ? message : undefined),
        () => undefined,
      );
      await open.end();
      // §13.2: the server sends KEY_COMMIT (or KEY_ROTATE) right after WELCOME, before it reads another
      // record, so it reaches us before the end of stream that answers our half-close: reading on until
      // then waits for nothing that is not coming.
      const keyMessage = welcome
        ? await open.receive().then(
            (message) => message,
            () => undefined,
          )
        : undefined;
      if (keyMessage?.type === 'KEY_COMMIT')
        await options.onKeyCommit?.(keyMessage.commitment, serverPublicKey);
      const permissions = welcome?.permissions;
      return { serverPublicKey, serverId: formatFerryId(serverPublicKey), permissions };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  } catch (err) {
    throw toFerryError(err);
  } finally {
    pairing?.dispose();
    owned?.dispose();
    channel?.close();
  }
}

/**
 * The next message for the pairing client, which must be `expected` or the server's ERROR (§12.6 steps 4
 * and 5); an ERROR is thrown as the error it names.
 */
async function receivePairingMessage<K extends 'PAIR_REPLY' | 'PAIR_DONE'>(
  channel: SecureChannel,
  expected: K,
): Promise<PairMessageOfType<K>> {
  return channel.receive((plaintext) => {
    if (plaintext[0] !== MESSAGE_TYPE_CODES.ERROR) return decodePairMessage(plaintext, expected);
    const message = decodeMessage(plaintext);
    if (message.type !== 'ERROR')
      throw new FerryError('INTERNAL', 'an error type byte decoded to another message');
    throw new FerryError(codeFromWire(message.code), message.detail || undefined, { remote: true });
  });
}
