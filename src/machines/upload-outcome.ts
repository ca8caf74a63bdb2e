/** What a finished upload reports (the client's `UploadResult`). */
export interface UploadOutcome {
  readonly size: number;
  /** The file digest (PROTOCOL.md §7.2) the server verified; 32 zero bytes for a joined stream. */
  readonly digest: Buffer;
  /** File bytes sent in this session (excludes chunks the server already held). */
  readonly sentBytes: number;
  /** Bytes the server already held verified when this session started (0 for an identical file). */
  readonly resumedBytes: number;
  /** True when the server's partial did not match this source and the transfer started over. */
  readonly restarted: boolean;
  /** True when the destination already held identical content and was left untouched. */
  readonly identical: boolean;
}
