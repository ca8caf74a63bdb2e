// A server's entries named as the client's own temporaries beside a destination (stop 43's security pass). A
// tree on a server may hold `.big.ferry-part` beside `big` (a folder synced up while a download into it was
// cut, or another uploader's choice), and receiving both into one directory made each take the other's
// place: `get -r` placed the listed `.big.ferry-part`, then `big`'s download took it as its own partial and
// removed it, and removed the listed `.big.ferry-state` as its state file once `big` was placed, and said
// "received 3 files", exit 0. One policy for `get -r` and `sync` down, as the walk of a sync's destination
// already leaves such names out (`isFerryTemporaryName`). Pure: no file system.
import { parseRemotePath } from '../protocol/index.js';
import { isFerryTemporaryName } from '../transfer/index.js';
import { foldedName } from './folded-name.js';

/** Why a listed entry named as one of the client's temporaries is left out (`entry-skipped`). */
export const NAMED_AS_A_TEMPORARY =
  'its name is one ferry gives its own temporaries beside a download (a partial, its state, a link or a batch being placed), so it cannot be received';

/**
 * A name that starts with `.` or with a character beyond ASCII: only such a name can fold to a temporary's,
 * which all start with `.` (`．`, U+FF0E, is `.` in NFKC; no ASCII character changes or composes into one).
 * The rest of a listing passes without being split or folded.
 */
const MAY_NAME_A_TEMPORARY = /(?:^|\/)[.\u0080-\u{10FFFF}]/u;

/**
 * `source` (a server's listing, paths '/'-separated below the listed top) without the entries any of whose
 * names is a client temporary's, and so without all below a directory of such a name; each left out is
 * reported through `onSkip` once, at the top of what it leaves out. Names are compared folded: on a
 * case-insensitive destination `.BIG.FERRY-PART` is `big`'s partial (and `.big.ferry-ſtate` its state where
 * the file system also takes NFKC), while the client's own are always spelt in lower case.
 */
export function leaveOutTemporaryNames<T extends { path: string }>(
  source: readonly T[],
  onSkip: (path: string, reason: string) => void,
): T[] {
  const reported = new Set<string>();
  return source.filter((entry) => {
    if (!MAY_NAME_A_TEMPORARY.test(entry.path)) return true;
    const names = entry.path.split('/');
    const at = names.findIndex(isTemporaryName);
    if (at < 0) return true;
    try {
      // Below a top name, so a nested `.ferry` (an ordinary name there, PROTOCOL.md §7.1) is checked too.
      parseRemotePath(`top/${entry.path}`);
    } catch {
      // Not a valid path (`..`, a control character): kept for the check that refuses the whole listing.
      return true;
    }
    const top = names.slice(0, at + 1).join('/');
    if (!reported.has(top)) {
      reported.add(top);
      onSkip(top, NAMED_AS_A_TEMPORARY);
    }
    return false;
  });
}

/**
 * Whether `name`, one component, folded, is a client temporary's (see MAY_NAME_A_TEMPORARY for the names not
 * folded): on a case-insensitive destination it would be one.
 */
export function isTemporaryName(name: string): boolean {
  const first = name.charCodeAt(0);
  if (first !== 0x2e && first < 0x80) return false;
  return isFerryTemporaryName(foldedName(name));
}
