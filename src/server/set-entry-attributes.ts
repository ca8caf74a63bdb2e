import { PERMISSION_UPLOAD, type SetAttributesMessage } from '../protocol/index.js';
import { receivedFileMode, setAttributesUnderRoot } from '../transfer/index.js';
import type { SessionIo } from './session-io.js';
import { STORE_REQUESTS } from './store-heads.js';

/**
 * SET_ATTRIBUTES (PROTOCOL.md §5.19): gives one existing file under the client's root the mode and mtime of
 * the client's copy, without its data (`ferry sync` when only those differ). It changes the root as an
 * upload does, so it needs the upload permission; the path rules are those of every write (§7.1: validated,
 * confined, no link followed, `setAttributesUnderRoot`), and the mode is narrowed as a received file's. On
 * an object store the same checks and the same narrowing come first, here, once for both, and the store
 * rewrites the object's metadata (`ServerObjectStore.setAttributes`: a copy onto itself bound to the
 * version it checked). Resolves with the mode and mtime set, or undefined when the file on disk had them
 * already (nothing changed, nothing to report).
 */
export async function setEntryAttributes(
  io: SessionIo,
  message: SetAttributesMessage,
): Promise<{ mode: number; mtimeMs: number } | undefined> {
  io.require(PERMISSION_UPLOAD, 'upload');
  const components = io.rooted(message.path);
  // What the file gets, on a disk and a store alike, and what the server's events report.
  const attributes = { mode: receivedFileMode(message.mode), mtimeMs: message.mtimeMs };
  if (io.objectStore) {
    // A copy onto itself moves the object's every byte inside the store (in parts past 5 GiB) for a request of
    // a few bytes: paid from the client's budget for work that sends no data (docs/SECURITY.md "Hashing on
    // request"), per client and in total, before the copy; its stat and HEAD from the store requests'
    // (STORE_REQUESTS), before them.
    await io.ctx.storeHeads.spend(io.clientKey, STORE_REQUESTS.attributes, io.stopped);
    const entry = await io.objectStore.statFile(components.join('/'));
    if (entry?.kind === 'file') await io.ctx.hashCache.spend(io.clientKey, entry.size, io.stopped);
    await io.objectStore.setAttributes(components.join('/'), attributes);
    return attributes;
  }
  const hook = io.ctx.beforeTreeWrite;
  const changed = await setAttributesUnderRoot(
    io.ctx.root,
    components,
    { mode: message.mode, mtimeMs: message.mtimeMs },
    { beforeOpen: hook && ((path) => hook(path, 'checked')) },
  );
  return changed ? attributes : undefined;
}
