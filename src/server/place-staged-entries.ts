import type { SmallFile, SmallFileOutcome } from '../transfer/index.js';
import type { BatchDestination, StagedEntry } from './batch-destination.js';
import { entryRefusal } from './entry-refusal.js';

/** What `placeStagedEntries` works with: where entries land, and whether this client may compare a file. */
export interface PlaceOptions {
  destination: BatchDestination;
  /** Resolves if the client may be told whether the existing file at `path` holds its entry; else throws. */
  mayCompare: (transferId: string, path: string, size: number) => Promise<void>;
}

/**
 * Places `entries` (staged); an entry whose name was taken between locating and placing it (a session of
 * this client still settling the batch this one re-sends, or any other writer) is decided again as an
 * existing one: compared when `mayCompare` allows it, FILE_EXISTS otherwise.
 */
export async function placeStagedEntries(
  entries: ReadonlyArray<{ transferId: string; file: SmallFile; staged: StagedEntry }>,
  options: PlaceOptions,
): Promise<SmallFileOutcome[]> {
  const { destination, mayCompare } = options;
  const outcomes = await destination.placeStaged(entries.map(({ staged }) => staged));
  const again: Array<{ k: number; transferId: string; file: SmallFile }> = [];
  for (let k = 0; k < entries.length; k++) {
    if (outcomes[k]!.status !== 'taken') continue;
    const { transferId, file } = entries[k]!;
    try {
      await mayCompare(transferId, file.path, file.data.length);
      again.push({ k, transferId, file: { ...file, compareExisting: true } });
    } catch (err) {
      const error = entryRefusal(err);
      outcomes[k] = { status: 'refused', code: error.code };
    }
  }
  if (again.length > 0) {
    const compared = await destination.place(again);
    again.forEach(({ k }, j) => (outcomes[k] = compared[j]!));
  }
  return outcomes;
}
