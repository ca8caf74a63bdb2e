import type { FileHandle } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import type { StoredPartialReader } from './partial-store.js';

/** Reads an open data file of a partial (`FilePartialStore.inspect`, and each open `FileStoredPartial`). */
export class PartialFileReader implements StoredPartialReader {
  protected handle: FileHandle | undefined;

  constructor(handle: FileHandle) {
    this.handle = handle;
  }

  async read(offset: number, into: Buffer): Promise<number> {
    const handle = this.handle;
    if (!handle) throw new FerryError('INTERNAL', 'partial is closed');
    const { bytesRead } = await handle.read(into, 0, into.length, offset);
    return bytesRead;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}
