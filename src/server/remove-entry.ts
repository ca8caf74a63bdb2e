import { PERMISSION_UPLOAD, type RemoveRequestMessage } from '../protocol/index.js';
import { removeUnderRoot } from '../transfer/index.js';
import type { SessionIo } from './session-io.js';

/**
 * REMOVE_REQUEST (PROTOCOL.md §5.16): removes one file, link or empty directory under the client's root.
 * It changes the root as an upload does, so it needs the upload permission; the path rules are those of
 * every write (§7.1: validated, confined, no link followed, `removeUnderRoot`). A non-empty directory is
 * refused (PATH_INVALID): the client removes a tree bottom-up, one entry per request.
 */
export async function removeEntry(io: SessionIo, message: RemoveRequestMessage): Promise<void> {
  io.require(PERMISSION_UPLOAD, 'upload');
  // rooted() adds the client's confinement, so at least one component follows it: a client never removes
  // its own root (§5.16: `path` is never '').
  await removeUnderRoot(io.ctx.root, io.rooted(message.path));
}
