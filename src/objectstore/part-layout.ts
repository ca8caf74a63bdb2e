/**
 * The smallest part S3 accepts for any part but the last (`EntityTooSmall` at CompleteMultipartUpload
 * otherwise, on AWS and on Swift's s3api alike).
 */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

/**
 * How a transfer's chunks map to multipart parts: part `n` (1-based, as S3 numbers them) is the chunks
 * `[(n - 1) * chunksPerPart, n * chunksPerPart)`, a whole number of chunks and at least {@link MIN_PART_BYTES}
 * (one chunk when chunks are that big already). Whole chunks, so a chunk never straddles two parts and a
 * part's bytes can be re-hashed chunk by chunk; the last part is whatever is left.
 */
export class PartLayout {
  readonly size: number;
  readonly chunkBytes: number;
  readonly chunksPerPart: number;
  readonly partBytes: number;
  /** Parts in the finished object; at least 1 (an empty file is one empty part). */
  readonly partCount: number;

  constructor(size: number, chunkBytes: number) {
    this.size = size;
    this.chunkBytes = chunkBytes;
    this.chunksPerPart = Math.max(1, Math.ceil(MIN_PART_BYTES / chunkBytes));
    this.partBytes = this.chunksPerPart * chunkBytes;
    this.partCount = Math.max(1, Math.ceil(size / this.partBytes));
  }

  /** The part (1-based) that holds byte `offset`. */
  partOf(offset: number): number {
    return Math.floor(offset / this.partBytes) + 1;
  }

  /** Where part `n` starts in the file. */
  startOf(part: number): number {
    return (part - 1) * this.partBytes;
  }

  /** How many bytes part `n` has in the finished file. */
  lengthOf(part: number): number {
    return Math.max(0, Math.min(this.partBytes, this.size - this.startOf(part)));
  }
}
