/** Where a delta streamer puts a chunk's pieces (PROTOCOL.md §5.15.3): copies, literals, then the hash. */
export interface DeltaSink {
  sendCopy(offset: number, oldOffset: number, length: number): Promise<void>;
  /** `data` lies in the streamer's read buffer, reused for the next chunk once this resolves: copy it. */
  sendData(offset: number, data: Buffer): Promise<void>;
  sendChunk(index: number, chunkHash: Buffer): Promise<void>;
}
