import type { FerryError } from '../errors/index.js';
import type { FramedSocket, SecureChannel } from '../channel/index.js';
import { errorMessageFor } from '../protocol/index.js';
import { lingerForClientClose } from './linger-for-client-close.js';

/**
 * Ends a session the server refuses or revokes (PROTOCOL.md §3.2.2): the coded ERROR with ref 0, a clean end
 * of stream so the client reads it, then a wait for the client to close. The client's first requests are on
 * the way (pipelined behind the handshake): closing at once would answer them with a reset, which can reach
 * the client before the ERROR is read (a retry instead of the refusal).
 */
export async function endSessionWithError(
  channel: SecureChannel,
  framed: FramedSocket,
  error: FerryError,
): Promise<void> {
  // PROTOCOL.md §5.1: the wire gets the code and the coded detail only, never a path or a stack.
  await channel.send(errorMessageFor(0, error));
  await channel.end();
  await lingerForClientClose(framed);
}
