import { connect as netConnect, type Socket } from 'node:net';
import type { ReusedReads } from '../channel/index.js';
import { FerryError, toFerryError } from '../errors/index.js';
import { remoteName } from './remote-name.js';
import type { ServerAddress } from './server-address.js';

/** Default deadline for the TCP connect. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Opens the TCP connection to `address` within `timeoutMs` (TIMEOUT), or fails with a network error. With
 * `reads`, the socket reads into its reused buffer (then `new FramedSocket(socket, reads)`).
 */
export function connectSocket(
  address: ServerAddress,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  reads?: ReusedReads,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    if (signal?.aborted) return reject(new FerryError('ABORTED'));
    const socket = netConnect({
      host: address.host,
      port: address.port,
      noDelay: true,
      ...(reads === undefined ? {} : { onread: reads.onread }),
    });
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: Error): void => {
      cleanup();
      socket.destroy();
      const coded = toFerryError(err);
      if (coded.code === 'ABORTED') return reject(coded);
      // Name the address: "connection refused" alone does not say where to.
      const where = remoteName(address, '');
      reject(
        coded.category === 'network'
          ? coded.about(where)
          : new FerryError('CONNECT_FAILED', undefined, { cause: err, subject: where }),
      );
    };
    const onAbort = (): void => onError(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    const timer = setTimeout(() => {
      cleanup();
      socket.destroy();
      reject(
        new FerryError('TIMEOUT', `connect not done within ${timeoutMs} ms`, {
          subject: remoteName(address, ''),
        }),
      );
    }, timeoutMs);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
