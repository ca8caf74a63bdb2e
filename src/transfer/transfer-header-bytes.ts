import type { TransferHeader } from './partial-store.js';

/** A transfer's header at the head of a partial's log: size (u64), mtime in ms (u64), chunk bytes (u32). */
const HEADER_BYTES = 20;

/** The header's bytes, as `FilePartialStore.open` writes them into a new log. */
export function encodeTransferHeader(header: TransferHeader): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out.writeBigUInt64BE(BigInt(header.size), 0);
  out.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(header.mtimeMs))), 8);
  out.writeUInt32BE(header.chunkBytes, 16);
  return out;
}

/** The header a log starts with; undefined when its bytes are not one (the partial is then not resumed). */
export function decodeTransferHeader(bytes: Buffer): TransferHeader | undefined {
  if (bytes.length !== HEADER_BYTES) return undefined;
  return {
    size: Number(bytes.readBigUInt64BE(0)),
    mtimeMs: Number(bytes.readBigUInt64BE(8)),
    chunkBytes: bytes.readUInt32BE(16),
  };
}
