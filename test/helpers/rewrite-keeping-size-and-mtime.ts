// A source that changes under a running transfer without its size or mtime saying so: only the sender's
// identity check (PROTOCOL.md §5.6.1, SOURCE_CHANGED) can tell. Synchronous on purpose, so that a test can
// rewrite the file from inside an event handler, before the transfer reads on.
import { closeSync, openSync, utimesSync, writeSync } from 'node:fs';

/** Overwrites 100 bytes at `offset` in place, then sets the mtime back to `mtimeS` (seconds). */
export function rewriteKeepingSizeAndMtime(path: string, offset: number, mtimeS: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.alloc(100, 0x58), 0, 100, offset);
  } finally {
    closeSync(fd);
  }
  utimesSync(path, mtimeS, mtimeS);
}
