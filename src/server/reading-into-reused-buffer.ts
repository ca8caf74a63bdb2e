import { Socket } from 'node:net';
import type { ReusedReads } from '../channel/index.js';

/**
 * The accepted socket `accepted` (from a server created with `pauseOnConnect: true`, so nothing has been
 * read yet) re-wrapped so that its reads land in `reads`' one reused buffer, as the client's do (issue 14:
 * a fresh 64 KiB buffer per read on the server made V8 run 25-56 major GCs per 512 MiB upload). Use the
 * returned socket from here on; `accepted` is destroyed (its handle moved, so the connection stays open).
 *
 * Why the handle is taken: Node offers `onread` only in the `net.Socket` constructor (and `net.connect`),
 * not for a server's accepted sockets (https://github.com/nodejs/node/issues/53792). `_handle` is Node's
 * own field, not a public API: test/server/reading-into-reused-buffer.test.ts fails if an upgrade breaks it.
 *
 * The new socket is not counted by `net.Server` (its connection count drops when `accepted` is destroyed):
 * the caller tracks it and destroys it on close.
 */
export function readingIntoReusedBuffer(accepted: Socket, reads: ReusedReads): Socket {
  const shell = accepted as unknown as { _handle: object | null };
  const handle = shell._handle;
  if (handle === null) {
    // Closed between accept and now (an RST): nothing to move.
    return accepted;
  }
  shell._handle = null;
  const socket = new Socket({
    handle,
    readable: true,
    writable: true,
    allowHalfOpen: accepted.allowHalfOpen,
    onread: reads.onread,
  } as ConstructorParameters<typeof Socket>[0]);
  accepted.destroy();
  return socket;
}
