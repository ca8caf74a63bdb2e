import type { SessionIo } from './session-io.js';

/**
 * An upload's or a batch entry's check that an object store may hold a file at `rooted` as a disk would
 * (`ServerObjectStore.assertPlaceable`: no object on the way, no keys below it unless `replaceDir`), paid
 * first from the client's store budget as every request's look at the store is (`STORE_REQUESTS`): one HEAD
 * per directory above the name not in `checked`, and a LIST unless `replaceDir`. `directory`: PUT_DIR's check
 * (an object at the name is FILE_EXISTS, as a disk's mkdir finds a file in the way).
 */
export async function assertObjectPlaceable(
  io: SessionIo,
  rooted: readonly string[],
  options: { replaceDir: boolean; checked?: Set<string>; directory?: boolean },
): Promise<void> {
  const store = io.objectStore!;
  // The LIST below the name, or for a directory the HEAD of the name.
  let requests = options.replaceDir && options.directory !== true ? 0 : 1;
  for (let i = 1; i < rooted.length; i++) if (!options.checked?.has(rooted.slice(0, i).join('/'))) requests++;
  if (requests > 0) await io.ctx.storeHeads.spend(io.clientKey, requests, io.stopped);
  await store.assertPlaceable(rooted.join('/'), options);
}
