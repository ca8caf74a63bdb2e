/** A delta upload's signature as its records arrive (PROTOCOL.md §5.15.2), fed by the loop receiving them. */
export interface UploadSignatureArrival {
  /** The blocks the whole signature has. */
  readonly totalBlocks: number;
  /** Resolves once at least `blocks` blocks arrived (all, at most), with the number arrived. */
  waitFor(blocks: number): Promise<number>;
}
