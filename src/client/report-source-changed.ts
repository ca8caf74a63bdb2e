import { isFerryError } from '../errors/index.js';
import { errorMessageFor } from '../protocol/index.js';
import type { ClientSession } from './client-session.js';

/**
 * PROTOCOL.md §5.6.1: an upload whose source changed under us ends with ERROR SOURCE_CHANGED for its ref
 * instead of PUT_END, so the server closes the transfer and reports why rather than waiting on it.
 */
export async function reportSourceChanged(session: ClientSession, ref: number, err: unknown): Promise<void> {
  if (!isFerryError(err, 'SOURCE_CHANGED') || err.remote || err.wireCode === null) return;
  await session.send(errorMessageFor(ref, err)).catch(() => undefined);
}
