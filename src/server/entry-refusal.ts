import { toFerryError, type FerryError } from '../errors/index.js';

/** Error categories that refuse one entry of a batch; anything else ends the session (as in §5.1). */
const ENTRY_SCOPED = new Set(['trust', 'path', 'transfer', 'storage']);

/**
 * `err` as the coded error that refuses one entry of a batch (PROTOCOL.md §5.14); throws it instead when it
 * ends the session (a protocol error, an internal one: the batch cannot go on).
 */
export function entryRefusal(err: unknown): FerryError {
  const error = toFerryError(err);
  if (!ENTRY_SCOPED.has(error.category)) throw error;
  return error;
}
