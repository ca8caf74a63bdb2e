import type { KeptPartial } from './progress-tally.js';
import { formatBytes } from './progress-format.js';

/** Partial files a note names one by one; the rest are counted. */
const NAMED_PARTIALS = 2;

/**
 * What a run stopped as a whole (Ctrl-C, the network) leaves for the same command to resume from, in the
 * words of the error line: `big.bin: 320 KiB of 1.00 MiB verified and kept on the server: run the same
 * command again to resume from there`. `where`: `on the server` (an upload) or `locally` (a download).
 */
export function keptPartialsNote(partials: readonly KeptPartial[], where: string): string {
  if (partials.length === 0)
    return 'no partial file was kept: run the same command again to start it over (files already complete are skipped)';
  const named = partials
    .slice(0, NAMED_PARTIALS)
    .map(({ file, keptBytes, size }) => `${file}: ${formatBytes(keptBytes)} of ${formatBytes(size)}`);
  const more = partials.length - named.length;
  const list = more > 0 ? `${named.join(', ')} and ${more} more partial files` : named.join(', ');
  return `${list} verified and kept ${where}: run the same command again to resume from there`;
}
