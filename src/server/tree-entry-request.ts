import { FerryError } from '../errors/index.js';
import {
  PERMISSION_UPLOAD,
  type PutDirMessage,
  type PutLinkMessage,
  type RemoveRequestMessage,
  type SetAttributesMessage,
} from '../protocol/index.js';
import type { BatchUploads } from './batch-uploads.js';
import type { SessionIo } from './session-io.js';
import { writeDirectory, writeLink } from './tree-writer.js';
import { removeEntry } from './remove-entry.js';
import { setEntryAttributes } from './set-entry-attributes.js';
import { assertObjectPlaceable } from './object-placeable.js';

/** The requests about one tree entry that is not a file's data: made, linked, removed, given attributes. */
export type TreeEntryRequest = PutDirMessage | PutLinkMessage | RemoveRequestMessage | SetAttributesMessage;

/**
 * What an object-store server (issue 15) does not serve: links (PUT_LINK), refused for the one operation,
 * saying so, rather than answered from the local root the files are not in. S3 has no link, and an object
 * standing for one would be a file to every other reader of the bucket (docs/ARCHITECTURE.md).
 */
function refuseOnObjectStore(io: SessionIo, what: string): void {
  if (io.objectStore)
    throw new FerryError('PERMISSION_DENIED', `${what} are not served from an object store`);
}

/**
 * Carries out one tree-entry request in the session's arrival order and ACKs it (PROTOCOL.md §5.10, §5.16,
 * §5.19); throws the coded error that refuses it. `batches`: the session's upload batches, placed first.
 */
export async function handleTreeEntryRequest(
  io: SessionIo,
  message: TreeEntryRequest,
  batches: BatchUploads | undefined,
): Promise<void> {
  const { ref } = message;
  switch (message.type) {
    case 'PUT_DIR':
    case 'PUT_LINK':
      // In an object store a directory is only a prefix of its files' keys: nothing to make, but refused
      // where a disk refuses it (an object on the way or at the name), so that a client is told what a disk
      // tells it, and with the permission a disk asks.
      if (message.type === 'PUT_DIR' && io.objectStore) {
        io.require(PERMISSION_UPLOAD, 'upload');
        await batches?.close(); // arrival order: a file an earlier batch places is in the way
        await assertObjectPlaceable(io, io.rooted(message.path), { replaceDir: true, directory: true });
        await io.send({ type: 'ACK', ref });
        return;
      }
      refuseOnObjectStore(io, 'links');
      // Arrival order (§5.10, §5.14): files of earlier batches are in place before a directory gets
      // its mtime, which placing them would move.
      await batches?.close();
      await (message.type === 'PUT_DIR' ? writeDirectory(io, message) : writeLink(io, message));
      await io.send({ type: 'ACK', ref });
      return;
    case 'REMOVE_REQUEST': {
      // PROTOCOL.md §5.16, on a disk or an object store alike (removeEntry holds both halves).
      // Arrival order, as for PUT_DIR: a batch sent before the removal is placed before it.
      await batches?.close();
      const removed = await removeEntry(io, message);
      // Reported once done, before the ACK: a dashboard shows what a sync --delete took away.
      if (removed !== undefined) io.events.entryRemoved(ref, message.path, removed);
      await io.send({ type: 'ACK', ref });
      return;
    }
    case 'SET_ATTRIBUTES': {
      // PROTOCOL.md §5.19, on a disk or an object store alike (setEntryAttributes holds both halves).
      // Arrival order, as for PUT_DIR: a batch sent before it is placed first.
      await batches?.close();
      const set = await setEntryAttributes(io, message);
      // A no-op (the file had them already) is acknowledged but not reported: repeated, it flooded the log.
      if (set !== undefined) io.events.attributesSet(ref, message.path, set);
      await io.send({ type: 'ACK', ref });
      return;
    }
  }
}
