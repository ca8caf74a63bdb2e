import { BYTE_UNITS } from '../../src/errors/index.js';

// The closing line's size is formatBytes output ("512 MiB", "1.50 MiB", "448 KiB", "900 B"): its number
// alone is not bytes. Reading `resumed from (\d+)` as bytes made a half-GiB resume "512" held bytes (the
// bench tables of stop 39 said the server held nothing), so both benches read it here, unit and all.
const RESUMED = new RegExp(
  `resumed from (\\d+(?:\\.\\d+)?) (${BYTE_UNITS.join('|')})\\b|"resumedBytes":(\\d+)`,
);

/**
 * The bytes a resumed `ferry send` or `get` said the other side already held, from its output: the
 * closing line's `resumed from 512 MiB` (exact to formatBytes' three significant digits, so exact for a
 * count of whole KiB below 1000 KiB, or of whole MiB below 1000 MiB, ...) or the `--json` event's
 * `"resumedBytes":N` (exact). Undefined when it says neither, as a run that resumed nothing does ("sent").
 */
export function resumedBytesOf(output: string): number | undefined {
  const said = RESUMED.exec(output);
  if (said === null) return undefined;
  if (said[3] !== undefined) return Number(said[3]);
  const unit = BYTE_UNITS.indexOf(said[2] as (typeof BYTE_UNITS)[number]);
  return Math.round(Number(said[1]) * 1024 ** unit);
}
