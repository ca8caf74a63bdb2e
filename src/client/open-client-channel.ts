import type { Socket } from 'node:net';
import {
  FramedSocket,
  MODE_NORMAL,
  ReusedReads,
  clientHandshake,
  type SecureChannel,
} from '../channel/index.js';
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
  const socket = await connectSocket(
    address,
    options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    options.signal,
    reads,
  );
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
