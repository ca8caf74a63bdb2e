import { basename } from 'node:path';
import { FerryError, toFerryError, type ErrorCode } from '../errors/index.js';
import type { KeyPair } from '../crypto/index.js';
import { joinRemotePath } from '../protocol/index.js';
import { ClientSession, type ServerAddress } from './client-session.js';
import { uploadFile, type UploadResult } from './upload-file.js';
import { DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from './retry-policy.js';

/** What happens during `sendFiles`, for progress displays and `--json` output. */
export type SendEvent =
  | { type: 'session-opened'; serverPublicKey: Buffer; attempt: number }
  | { type: 'transfer-started'; file: string; remotePath: string; size: number; heldBytes: number; restarted: boolean }
  | { type: 'progress'; file: string; verifiedBytes: number; size: number }
  | { type: 'transfer-finished'; file: string; remotePath: string; result: UploadResult }
  | { type: 'retrying'; attempt: number; delayMs: number; code: ErrorCode; message: string };

export interface SendFilesOptions {
  server: ServerAddress;
  /** Local files; each keeps its base name inside `remoteDir`. */
  files: readonly string[];
  /** Remote directory ('/'-separated, relative to the client's root on the server); '' for the root. */
  remoteDir?: string;
  identity: KeyPair;
  /** Checks the server key before ours is revealed (PROTOCOL.md §3.2.1). */
  verifyServer: (publicKey: Buffer) => Promise<void> | void;
  chunkBytes?: number;
  overwrite?: boolean;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  stallTimeoutMs?: number;
  /** Retry behaviour; fields left out take DEFAULT_RETRY_POLICY's. */
  retry?: Partial<RetryPolicy>;
  /** Where chunk hashes are cached so a resume need not re-read what the server holds. */
  cacheDir?: string;
  onEvent?: (event: SendEvent) => void;
  signal?: AbortSignal;
}

/**
 * Uploads files, one after the other, resuming across sessions: a retryable failure (network, stall,
 * corrupted record) is followed by a new session after a backoff, and the transfer continues from the
 * chunks the server proves it holds. Resolves only once the server verified and stored every file.
 */
export async function sendFiles(options: SendFilesOptions): Promise<UploadResult[]> {
  if (options.files.length === 0) throw new FerryError('USAGE_INVALID', 'no files to send');
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const emit = options.onEvent ?? (() => undefined);
  const results: UploadResult[] = [];
  let failures = 0;
  for (let attempt = 1; ; attempt++) {
    let session: ClientSession | undefined;
    let progressed = false;
    try {
      session = await ClientSession.connect(options.server, options);
      emit({ type: 'session-opened', serverPublicKey: session.serverPublicKey, attempt });
      while (results.length < options.files.length) {
        const file = options.files[results.length]!;
        const remotePath = joinRemotePath(options.remoteDir ?? '', basename(file));
        const result = await uploadFile(session, file, remotePath, {
          chunkBytes: options.chunkBytes,
          overwrite: options.overwrite,
          signal: options.signal,
          cacheDir: options.cacheDir,
          onAccepted: (info) => emit({ type: 'transfer-started', file, remotePath, ...info }),
          onVerified: (verifiedBytes, size) => {
            progressed = true;
            emit({ type: 'progress', file, verifiedBytes, size });
          },
        });
        emit({ type: 'transfer-finished', file, remotePath, result });
        results.push(result);
      }
      await session.end();
      return results;
    } catch (err) {
      const error = options.signal?.aborted ? new FerryError('ABORTED') : toFerryError(err);
      session?.close(error);
      // Only consecutive failures that moved nothing count against the budget.
      failures = progressed ? 1 : failures + 1;
      if (!error.retryable || failures > policy.retries) throw error;
      const delayMs = retryDelayMs(failures, policy);
      emit({ type: 'retrying', attempt: attempt + 1, delayMs, code: error.code, message: error.message });
      await policy.sleep(delayMs, options.signal);
    }
  }
}
