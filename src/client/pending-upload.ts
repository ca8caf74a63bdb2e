import type { UploadOutcome } from '../machines/index.js';

/** What an upload reports: the sender machine's outcome (one type for one concept). */
export type UploadResult = UploadOutcome;

/** An upload whose bytes are all sent; `done` settles when the server confirms (or refuses) it. */
export interface PendingUpload {
  readonly ref: number;
  readonly done: Promise<UploadResult>;
}
