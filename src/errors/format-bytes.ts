/**
 * Binary units, as `ls -h` and most transfer tools print them; exported for the readers of the CLI's lines
 * (bench/lib/resumed-bytes.ts), so a unit added here is one they read too.
 */
export const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/**
 * `1536` -> `1.5 KiB`; whole bytes below 1 KiB; three significant digits above. The one way sizes are said
 * to people: the CLI's lines and the messages of errors raised on this side (a DISK_FULL of a download).
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes))} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${BYTE_UNITS[unit]}`;
}
