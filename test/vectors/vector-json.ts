/** A byte string in a vector file. */
export interface HexBytes {
  hex: string;
}

/** One vector of ferry-file-digests.json (PROTOCOL.md §7.2, §5.4); every byte string is hex. */
export interface FileDigestVector {
  name: string;
  size: number;
  chunkBytes: number;
  /** RFC 6962 MTH over the file's leaves; the content itself is the pattern `i mod 251` (README.md). */
  treeRoot: string;
  chunkHashes: string[];
  fileDigest: string;
  haveDigest: string;
}

/** Message fields as JSON: Buffers become `{ "hex": ... }`, everything else stays as it is. */
export function toVectorJson(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { hex: value.toString('hex') };
  if (Array.isArray(value)) return value.map(toVectorJson);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, toVectorJson(field)]));
  return value;
}

/** The inverse of toVectorJson. */
export function fromVectorJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromVectorJson);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === 'hex' && typeof entries[0]![1] === 'string')
      return Buffer.from(entries[0]![1], 'hex');
    return Object.fromEntries(entries.map(([key, field]) => [key, fromVectorJson(field)]));
  }
  return value;
}
