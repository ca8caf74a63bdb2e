import type { Socket } from 'node:net';
import {
  FramedSocket,
  MODE_NORMAL,
  ReusedReads,
  clientHandshake,
  type SecureChannel,
} from '../channel/index.js';
import { KemKeyPair } from '../crypto/index.js';
import { toFerryError, type FerryError } from '../errors/index.js';
import type { ClientSessionOptions } from './client-session-options.js';
import { CONNECT_TIMEOUT_MS, connectSocket } from './connect-socket.js';
import { remoteName } from './remote-name.js';
import type { ServerAddress } from './server-address.js';

/**
 * Connects to `address` and runs the client's handshake (PROTOCOL.md §3) over the socket; a failure of
 * either names the address. The session's watchdogs are the caller's: this only opens the channel.
 *
 * When the server closed the connection while `verifyServer` ran, and it then accepted the key, this
 * connects once more: a person at the trust prompt takes longer than a server's handshake timeout (10 s by
 * default, PROTOCOL.md §3.2.4), and an answer of yes that failed the command (or cost a retry) is not what an
 * ssh user expects. The key is pinned by then, so the second handshake asks nothing; once only, so a
 * `verifyServer` that keeps outlasting the server cannot loop.
 */
export async function openClientChannel(
  address: ServerAddress,
  options: ClientSessionOptions,
): Promise<{ socket: Socket; channel: SecureChannel }> {
  const first = await openOnce(address, options);
  if (!first.endedWhileVerifying) return first;
  const second = await openOnce(address, options);
  if (second.endedWhileVerifying) throw second.error;
  return second;
}

type Opened =
  | { endedWhileVerifying: false; socket: Socket; channel: SecureChannel }
  | { endedWhileVerifying: true; error: FerryError };

async function openOnce(address: ServerAddress, options: ClientSessionOptions): Promise<Opened> {
  // A session's records arrive into one reused read buffer (issue 14: no 64 KiB buffer per read).
  const reads = new ReusedReads();
  const connecting = connectSocket(
    address,
    options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    options.signal,
    reads,
  );
  const kemKeyPair = await keyPairWhileConnecting(connecting);
  let socket: Socket;
  try {
    socket = await connecting;
  } catch (err) {
    kemKeyPair.close();
    throw err;
  }
  const framed = new FramedSocket(socket, reads);
  let endedWhileVerifying = false;
  try {
    const channel = await clientHandshake(framed, {
      identity: options.identity,
      verifyServer: async (publicKey) => {
        await options.verifyServer(publicKey);
        // Accepted, but the server gave up on the handshake meanwhile (its close, not our abort).
        endedWhileVerifying = framed.error !== undefined && options.signal?.aborted !== true;
      },
      mode: MODE_NORMAL,
      timeoutMs: options.handshakeTimeoutMs,
      signal: options.signal,
      ...(options.rekey === undefined ? {} : { rekey: options.rekey }),
      kemKeyPair,
    });
    return { endedWhileVerifying: false, socket, channel };
  } catch (err) {
    // A handshake that fails names where it was tried, as a refused connect does: "handshake failed"
    // alone does not say that the port was the wrong one (the dashboard's, say).
    const coded = toFerryError(err);
    const error =
      coded.subject === undefined && coded.code !== 'ABORTED' ? coded.about(remoteName(address, '')) : coded;
    if (endedWhileVerifying) return { endedWhileVerifying: true, error };
    throw error;
  }
}

/**
 * Message 1's fresh ML-KEM key pair, made while the TCP connect is in flight: its key generation is the
 * largest CPU cost of a cold client's handshake (~25-30 ms: @noble/post-quantum's Keccak in V8's
 * interpreter, issue 16), so on a network it overlaps the connect's round trip instead of following it. net
 * starts the connect on a later tick (after the lookup for a host name, on the next tick for an address), so
 * the key pair is made once the pending ticks ran. A failed connect is not waited for: its rejection is
 * handled by the caller's await of `connecting`, which comes right after.
 */
async function keyPairWhileConnecting(connecting: Promise<Socket>): Promise<KemKeyPair> {
  // Handled here too: a connect refused before the key pair is made must not be an unhandled rejection.
  connecting.catch(() => undefined);
  await new Promise<void>((resolve) => setImmediate(resolve));
  return new KemKeyPair();
}
