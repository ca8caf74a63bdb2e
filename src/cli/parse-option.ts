import { FerryError } from '../errors/index.js';
import { MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from '../protocol/index.js';

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** Parses `4096`, `64k`, `4M`, `10G`, `1T` (binary units, optional trailing `iB`/`B`) into bytes. */
export function parseByteSize(text: string): number {
  const match = /^(\d+)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!match) throw new FerryError('USAGE_INVALID', `not a size: ${JSON.stringify(text)}`);
  const bytes = Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes))
    throw new FerryError('USAGE_INVALID', `size too large: ${JSON.stringify(text)}`);
  return bytes;
}

/** Formats bytes the way parseByteSize reads them, in the largest unit that divides them (`16M`, `1536k`). */
export function formatByteSize(bytes: number): string {
  for (const unit of ['t', 'g', 'm', 'k'] as const) {
    const size = UNITS[unit]!;
    if (bytes > 0 && bytes % size === 0) return `${bytes / size}${unit.toUpperCase()}`;
  }
  return String(bytes);
}

/**
 * What `--chunk-size` takes, from the protocol's bounds (PROTOCOL.md §5.3), for its help and its error, so
 * neither drifts from the check (both once said 1k where 64k was the least).
 */
const CHUNK_SIZE_RANGE = `a power of two from ${formatByteSize(MIN_CHUNK_BYTES).toLowerCase()} to ${formatByteSize(MAX_CHUNK_BYTES)}`;

/** `--chunk-size`'s help line. */
export const CHUNK_SIZE_HELP = `chunk size, ${CHUNK_SIZE_RANGE}`;

/** Parses `--chunk-size`: a size that is a power of two within PROTOCOL.md §5.3's bounds. */
export function parseChunkSize(text: string): number {
  const bytes = parseByteSize(text);
  if (bytes < MIN_CHUNK_BYTES || bytes > MAX_CHUNK_BYTES || (bytes & (bytes - 1)) !== 0) {
    throw new FerryError('USAGE_INVALID', `--chunk-size must be ${CHUNK_SIZE_RANGE}, got ${text}`);
  }
  return bytes;
}

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The one duration parser of every flag: `500ms`, `30s`, `10m`, `24h`, `7d` into milliseconds. A bare
 * number is milliseconds, as these flags always took, unless `unitRequired` (`--ttl 10` is ambiguous).
 */
export function parseMs(text: string, flag: string, options: { unitRequired?: boolean } = {}): number {
  const match = /^(\d+)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  const unit = match?.[2]?.toLowerCase();
  if (!match || (unit === undefined && options.unitRequired))
    throw new FerryError(
      'USAGE_INVALID',
      `${flag} takes a duration like 500ms, 30s, 10m, 24h or 7d, got ${JSON.stringify(text)}`,
    );
  const ms = Number(match[1]) * DURATION_UNIT_MS[unit ?? 'ms']!;
  if (!Number.isSafeInteger(ms))
    throw new FerryError('USAGE_INVALID', `${flag}: duration too large: ${JSON.stringify(text)}`);
  return ms;
}

/**
 * Formats milliseconds the way parseMs reads them, in the largest unit that divides them (`30s`, `24h`,
 * `500ms`): what `--help` shows as a default, so it reads as the README does rather than as `86400000`.
 */
export function formatMs(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = DURATION_UNIT_MS[unit]!;
    if (ms > 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Parses a non-negative whole count. */
export function parseCount(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim()))
    throw new FerryError('USAGE_INVALID', `${flag} takes a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** Parses `--threads`: 1 (the event loop alone) to 64 threads hashing and sealing. */
export function parseThreads(text: string): number {
  const n = parseCount(text, '--threads');
  if (n < 1 || n > 64) throw new FerryError('USAGE_INVALID', `--threads takes 1 to 64, got ${n}`);
  return n;
}

/** Parses `--streams`: 1 to 16 connections. */
export function parseStreams(text: string): number {
  const n = parseCount(text, '--streams');
  if (n < 1 || n > 16) throw new FerryError('USAGE_INVALID', `--streams takes 1 to 16, got ${n}`);
  return n;
}
