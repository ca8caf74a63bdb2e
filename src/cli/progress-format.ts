import { formatBytes } from '../errors/index.js';

export { formatBytes };

/** Bytes per second as `12.3 MiB/s`; `-` when unknown. */
export function formatRate(bytesPerSecond: number | undefined): string {
  if (bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '-';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** A duration for people: `850 ms`, `4.2 s`, `3m05s`, `2h07m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** The first 16 hex digits of a digest: enough to compare by eye, as `ferry digest` prints it. */
export function digestPrefix(digest: Buffer | string): string {
  return (typeof digest === 'string' ? digest : digest.toString('hex')).slice(0, 16);
}
