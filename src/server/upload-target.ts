import { resolveUnderRoot, type RootPath } from '../transfer/index.js';
import type { PutOfferMessage } from '../protocol/index.js';
import { missingParents } from './missing-parents.js';
import type { SessionIo } from './session-io.js';

/**
 * Where an upload's file goes under the root (its missing directories made and charged first), by the root
 * rules: no link followed, no `..` out. `knownDirs` are the directories under the root this session already
 * checked (see resolveUnderRoot).
 */
export async function uploadTarget(
  io: SessionIo,
  offer: PutOfferMessage,
  rooted: readonly string[],
  knownDirs: Set<string>,
): Promise<RootPath> {
  // Bounded: a session touching very many directories just checks some of them again. A directory this
  // offer replaces (REPLACE_DIR) may be one of them, or hold some: they are all looked at again.
  if (knownDirs.size > 10_000 || offer.replaceDir) knownDirs.clear();
  // Directories this offer creates count against the quota and the reserve (StorageLimits.ENTRY_BYTES).
  await io.ctx.storage.chargeEntries(io.clientKey, await missingParents(io.ctx.root, rooted, knownDirs));
  const target = await resolveUnderRoot(io.ctx.root, rooted, {
    createDirs: true,
    knownDirs,
    // PROTOCOL.md §5.3: OVERWRITE replaces a link too, the link itself, when the file is placed;
    // REPLACE_DIR a directory, with all it holds, then too (FilePartialStore.finish), never before.
    replaceLink: offer.overwrite,
    replaceDir: offer.overwrite && offer.replaceDir === true,
  });
  // NOT_UTF8 (§5.3): only the client knows whether an exclude pattern is in effect, which keeps such names.
  return target.replaces === 'dir' && offer.notUtf8 === true ? { ...target, replacesNotUtf8: true } : target;
}
