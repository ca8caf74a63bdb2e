import { formatBytes, formatDuration, formatRate } from './progress-format.js';
import { fitPath } from './progress-line.js';
import type { Colors } from './terminal-colors.js';

/** Most columns a file name gets in a bar; a narrower terminal gives it less. */
const NAME_COLUMNS = 40;
/** Most characters of the bar itself, and the fewest before the bar is dropped. */
const BAR_COLUMNS = 24;
const MIN_BAR_COLUMNS = 8;
/** A name narrower than this makes the bar drop its speed, then its byte counts. */
const MIN_NAME_COLUMNS = 20;

/** Whole seconds are precise enough for an estimate: `<1s`, `42s`, `3m05s`. */
function formatEta(seconds: number): string {
  if (seconds < 1) return '<1s';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  return formatDuration(seconds * 1000);
}

/** What one bar shows. */
export interface BarFields {
  name: string;
  /** 0 to 1. */
  progress: number;
  value: number;
  total: number;
  speed: number | undefined;
  eta: number | undefined;
}

/**
 * One bar line in at most `width` columns: name, bar, percent, bytes, speed, ETA. On a narrow terminal the
 * bar shrinks first, then speed and the byte counts are left out, and the name is shortened from the left;
 * the line never wraps (a wrapped line would throw every redraw one row off).
 */
export function formatBarLine(fields: BarFields, width: number, c: Colors): string {
  const pct = `${Math.floor(fields.progress * 100)}%`.padStart(4);
  // Widest values: `1000 KiB / 1000 KiB`, `1000 KiB/s`, `ETA 59m59s`.
  const bytes = `${formatBytes(fields.value)} / ${formatBytes(fields.total)}`.padStart(19);
  const speed = formatRate(fields.speed).padStart(10);
  const eta = (fields.eta === undefined ? '' : `ETA ${formatEta(fields.eta)}`).padEnd(10);
  const layouts = [[pct, bytes, speed, eta], [pct, bytes, eta], [pct, eta], [pct]];
  for (const tail of layouts) {
    const tailWidth = tail.reduce((sum, part) => sum + part.length + 1, 0);
    const barColumns = Math.min(BAR_COLUMNS, width - tailWidth - 1 - MIN_NAME_COLUMNS);
    if (barColumns < MIN_BAR_COLUMNS) continue;
    const nameColumns = Math.min(NAME_COLUMNS, width - tailWidth - 1 - barColumns);
    const filled = Math.round(fields.progress * barColumns);
    const bar = c.cyan('█'.repeat(filled)) + c.dim('░'.repeat(barColumns - filled));
    const parts = tail.map((part) => (part === eta ? c.dim(part) : part));
    return `${fitPath(fields.name, nameColumns)} ${bar} ${parts.join(' ')}`.trimEnd();
  }
  return `${fitPath(fields.name, Math.max(1, width - pct.length - 1))} ${pct}`;
}
