import { PERMISSION_UPLOAD, type RemoveRequestMessage } from '../protocol/index.js';
import { removeUnderRoot, type RemovedKind } from '../transfer/index.js';
import type { SessionIo } from './session-io.js';
import { STORE_REQUESTS } from './store-heads.js';

/**
 * REMOVE_REQUEST (PROTOCOL.md §5.16): removes one file, link or empty directory under the client's root.
 * It changes the root as an upload does, so it needs the upload permission; the path rules are those of
 * every write (§7.1: validated, confined, no link followed, `removeUnderRoot`). A non-empty directory is
 * refused (PATH_INVALID): the client removes a tree bottom-up, one entry per request. On an object store
 * the same checks come first, here, once for both, and the store removes the one object the path names
 * (`ServerObjectStore.removeEntry`: a prefix still holding keys is a non-empty directory, refused alike).
 * Resolves with what it removed, undefined when an object store held nothing there.
 */
export async function removeEntry(
  io: SessionIo,
  message: RemoveRequestMessage,
): Promise<RemovedKind | undefined> {
  io.require(PERMISSION_UPLOAD, 'upload');
  // rooted() adds the client's confinement, so at least one component follows it: a client never removes
  // its own root (§5.16: `path` is never '').
  const components = io.rooted(message.path);
  if (io.objectStore) {
    // 'nothing' is acknowledged too: the directory emptied by the removals before this one is gone already.
    // Its store requests are paid first (STORE_REQUESTS): a removal of nothing was three, unpaid.
    await io.ctx.storeHeads.spend(io.clientKey, STORE_REQUESTS.remove, io.stopped);
    return (await io.objectStore.removeEntry(components.join('/'))) === 'file' ? 'file' : undefined;
  }
  // NOT_UTF8 (§5.16): only the client knows whether an exclude pattern is in effect, which keeps such names.
  return removeUnderRoot(io.ctx.root, components, { notUtf8: message.notUtf8 === true });
}
