import type { SourceFile } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import { deltaWanted } from './upload-delta-wanted.js';
import type { UploadOptions } from './upload-options.js';

/** Sends PUT_OFFER for `source` on a new ref (PROTOCOL.md §5.3, §5.13.2, §5.15.1) and returns the ref. */
export function sendUploadOffer(
  session: ClientSession,
  source: SourceFile,
  path: string,
  chunkBytes: number,
  options: UploadOptions,
  fresh: boolean,
  join: Buffer | undefined,
): number {
  const ref = session.openRef();
  // Not awaited on purpose: the socket keeps order, and backpressure is applied by the data that follows.
  void session
    .send({
      type: 'PUT_OFFER',
      ref,
      size: source.size,
      mtimeMs: source.mtimeMs,
      chunkBytes,
      mode: source.mode,
      overwrite: join !== undefined ? false : (options.overwrite ?? false),
      fresh,
      ...(join ? { join } : {}),
      ...(deltaWanted(source.size, options, join) ? { delta: true as const } : {}),
      ...(options.replaceDir === true && options.overwrite === true && join === undefined
        ? {
            replaceDir: true as const,
            ...(options.replacesNotUtf8 === true ? { notUtf8: true as const } : {}),
          }
        : {}),
      path,
    })
    .catch(() => undefined);
  return ref;
}
