import { createHash } from 'node:crypto';
import { MAX_COMPONENT_BYTES } from '../protocol/index.js';

/**
 * A time for `utimes`, in seconds, from milliseconds since the epoch. libuv keeps microseconds, and a
 * plain `new Date(ms)` can land a hair below the millisecond (x.999), which reads back one millisecond
 * early; half a microsecond up keeps a round trip exact to the millisecond.
 */
export function fsTimeOf(mtimeMs: number): number {
  return (mtimeMs + 0.0005) / 1000;
}

/**
 * A hidden name beside `name` in the same directory, for a temporary file that is renamed over `name`
 * (`.NAME.SUFFIX`). Names near the 255-byte limit get a hash instead, so the temporary name always fits.
 */
export function siblingTempName(name: string, suffix: string): string {
  const plain = `.${name}.${suffix}`;
  if (Buffer.byteLength(plain) <= MAX_COMPONENT_BYTES) return plain;
  return `.${createHash('sha256').update(name).digest('hex').slice(0, 32)}.${suffix}`;
}
