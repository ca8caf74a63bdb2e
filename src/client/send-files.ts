import { basename } from 'node:path';
import { FerryError } from '../errors/index.js';
import type { KeyPair } from '../crypto/index.js';
import { joinRemotePath } from '../protocol/index.js';
import { ClientSession, type ServerAddress } from './client-session.js';
import { uploadFile, type UploadResult } from './upload-file.js';

/** What happens during `sendFiles`, for progress displays and `--json` output. */
export type SendEvent =
  | { type: 'session-opened'; serverPublicKey: Buffer }
  | { type: 'transfer-started'; file: string; remotePath: string; size: number; heldBytes: number; restarted: boolean }
  | { type: 'progress'; file: string; verifiedBytes: number; size: number }
  | { type: 'transfer-finished'; file: string; remotePath: string; result: UploadResult };

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
  idleTimeoutMs?: number;
  onEvent?: (event: SendEvent) => void;
  signal?: AbortSignal;
}

/**
 * Uploads files over one session, one after the other. Resolves only once the server verified and stored
 * every file; rejects with a FerryError otherwise (partials stay on the server for a later resume).
 */
export async function sendFiles(options: SendFilesOptions): Promise<UploadResult[]> {
  if (options.files.length === 0) throw new FerryError('USAGE_INVALID', 'no files to send');
  const session = await ClientSession.connect(options.server, options);
  const emit = options.onEvent ?? (() => undefined);
  try {
    emit({ type: 'session-opened', serverPublicKey: session.serverPublicKey });
    const results: UploadResult[] = [];
    for (const file of options.files) {
      const remotePath = joinRemotePath(options.remoteDir ?? '', basename(file));
      const result = await uploadFile(session, file, remotePath, {
        chunkBytes: options.chunkBytes,
        overwrite: options.overwrite,
        signal: options.signal,
        onAccepted: (info) => emit({ type: 'transfer-started', file, remotePath, ...info }),
        onVerified: (verifiedBytes, size) => emit({ type: 'progress', file, verifiedBytes, size }),
      });
      emit({ type: 'transfer-finished', file, remotePath, result });
      results.push(result);
    }
    await session.end();
    return results;
  } finally {
    session.close();
  }
}
