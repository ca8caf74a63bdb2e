import { CLIENT_BATCH_TEMP_PREFIX, isBatchTemporary } from './batch-temporaries.js';

/**
 * The names `siblingTempName` gives what a client keeps beside a destination while it arrives: a download's
 * partial (`.NAME.ferry-part`), its state file (`.NAME.ferry-state`) and that file's temporary
 * (`.NAME.ferry-state.tmp`), a link being placed (`.NAME.<random>.ferry-link`). A name near the 255-byte
 * limit is hashed (`.<32 hex>.ferry-part`), which the same pattern takes.
 */
const SIBLING_TEMPORARY = /^\..*\.ferry-(?:part|state|state\.tmp|link)$/;

/**
 * Whether `name`, one component, is a name the client gives its own temporaries beside a destination: a
 * download's partial, state file or its temporary, a link being placed, or a batch's temporary
 * (`.ferry-batch-<16 hex>-<index>`). Such a name is never an entry of a tree the client receives into: the
 * walk of a sync's destination leaves it out, and a server's listing has it left out too
 * (`leaveOutTemporaryNames`), or the entry received under it and the client's own temporary would each take
 * the other's place (a partial's cleanup removed the entry; a batch's sweep removed it an hour later).
 */
export function isFerryTemporaryName(name: string): boolean {
  // Every such name starts with '.': the rest of a tree's walk pays one comparison a name.
  if (name.charCodeAt(0) !== 0x2e) return false;
  return (
    SIBLING_TEMPORARY.test(name) || (name.startsWith(CLIENT_BATCH_TEMP_PREFIX) && isBatchTemporary(name))
  );
}
