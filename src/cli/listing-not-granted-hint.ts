import { FerryError } from '../errors/index.js';
import { shellWord } from './shell-word.js';

/**
 * `err`, with the way out when a sync up was refused its listing: an upload-only client was told only
 * "listing not granted", though it may upload. A sync compares both trees, so it lists DST, which takes the
 * download permission (README "Sync"); `send -r` uploads without it.
 */
export function withListingNotGrantedHint(err: unknown, upload: { src: string; dst: string }): unknown {
  if (!(err instanceof FerryError) || err.code !== 'PERMISSION_DENIED' || !err.remote) return err;
  if (err.detail !== 'listing not granted') return err;
  return err.withHint(
    `a sync lists both trees, which takes the download permission too: send -r uploads without it (\`ferry send -r ${shellWord(upload.src)} ${shellWord(upload.dst)}\`; README "Directories" says where it lands)`,
  );
}
