import type { KeptPartial } from './progress-tally.js';
import { formatBytes } from './progress-format.js';

/** Partial files a note names one by one; the rest are counted. */
const NAMED_PARTIALS = 2;

/**
 * What a run stopped as a whole (Ctrl-C, the network) leaves for the same command to resume from, in the
 * words of the error line: `big.bin: at least 320 KiB of 1.00 MiB verified and kept on the server: run the
 * same command again to resume from there`. `where`: `on the server` (an upload) or `locally` (a download).
 * `partials` are the files in flight, with the bytes the receiver last reported verified and durable.
 *
 * "At least": the receiver finishes what was in flight when the run stopped (a batch being made durable,
 * records already on the wire), so a rerun resumes from that or more (stop 36's pass: 48 MiB said, 84 MiB
 * resumed); the client cannot know how much more without asking, and a Ctrl-C must not wait to ask.
 */
export function keptPartialsNote(partials: readonly KeptPartial[], where: string): string {
  const reported = partials.filter((partial) => partial.keptBytes > 0);
  if (reported.length === 0)
    return partials.length === 0
      ? 'no partial file was kept: run the same command again to start it over (files already complete are skipped)'
      : `no verified part was reported yet (what was in flight may be kept ${where}): run the same command again to resume from what was kept`;
  const named = reported
    .slice(0, NAMED_PARTIALS)
    .map(
      ({ file, keptBytes, size }) => `${file}: at least ${formatBytes(keptBytes)} of ${formatBytes(size)}`,
    );
  const more = reported.length - named.length;
  const list = more > 0 ? `${named.join(', ')} and ${more} more partial files` : named.join(', ');
  return `${list} verified and kept ${where}: run the same command again to resume from there`;
}
