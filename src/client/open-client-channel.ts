import type { Socket } from 'node:net';
import {
  FramedSocket,
  MODE_NORMAL,
  ReusedReads,
  clientHandshake,
  type SecureChannel,
} from '../channel/index.js';
import { toFerryError } from '../errors/index.js';
import type { ClientSessionOptions } from './client-session-options.js';
import { CONNECT_TIMEOUT_MS, connectSocket } from './connect-socket.js';
import { remoteName } from './remote-name.js';
import type { ServerAddress } from './server-address.js';

/**
 * Connects to `address` and runs the client's handshake (PROTOCOL.md §3) over the socket; a failure of
 * either names the address. The session's watchdogs are the caller's: this only opens the channel.
 */
export async function openClientChannel(
  address: ServerAddress,
  options: ClientSessionOptions,
): Promise<{ socket: Socket; channel: SecureChannel }> {
  // A session's records arrive into one reused read buffer (issue 14: no 64 KiB buffer per read).
  const reads = new ReusedReads();
  const socket = await connectSocket(
    address,
    options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    options.signal,
    reads,
  );
  const framed = new FramedSocket(socket, reads);
  const channel = await clientHandshake(framed, {
    identity: options.identity,
    verifyServer: options.verifyServer,
    mode: MODE_NORMAL,
    timeoutMs: options.handshakeTimeoutMs,
    signal: options.signal,
    ...(options.rekey === undefined ? {} : { rekey: options.rekey }),
  }).catch((err: unknown) => {
    // A handshake that fails names where it was tried, as a refused connect does: "handshake failed"
    // alone does not say that the port was the wrong one (the dashboard's, say).
    const coded = toFerryError(err);
    throw coded.subject === undefined && coded.code !== 'ABORTED'
      ? coded.about(remoteName(address, ''))
      : coded;
  });
  return { socket, channel };
}
