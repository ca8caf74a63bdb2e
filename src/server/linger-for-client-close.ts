import type { FramedSocket } from '../channel/index.js';

/**
 * After an ERROR that ends a session and the end of stream, how long the server waits for the client to
 * close before it does: a close with the client's last records unread would answer them with a reset, and
 * a reset can reach the client before it reads the ERROR, hiding the code (SERVER_BUSY, CLIENT_NOT_ALLOWED)
 * behind a bare CONNECTION_CLOSED.
 */
const END_LINGER_MS = 2000;

/**
 * Waits, at most END_LINGER_MS, for the client to end or close its side after our end of stream. What the
 * client sends meanwhile is read and dropped (`discardIncoming`): nothing is kept for a session that is over,
 * and its end of stream is seen behind whatever it still sends.
 */
export async function lingerForClientClose(framed: FramedSocket): Promise<void> {
  const { socket } = framed;
  if (socket.destroyed || socket.readableEnded) return;
  framed.discardIncoming();
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.off('close', done);
      socket.off('end', done);
      resolve();
    };
    const timer = setTimeout(done, END_LINGER_MS).unref();
    socket.once('close', done);
    socket.once('end', done);
  });
}
