import { FerryError } from '../errors/index.js';

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** Parses `4096`, `64k`, `4M`, `10G`, `1T` (binary units, optional trailing `iB`/`B`) into bytes. */
export function parseByteSize(text: string): number {
  const match = /^(\d+)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!match) throw new FerryError('USAGE_INVALID', `not a size: ${JSON.stringify(text)}`);
  const bytes = Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) throw new FerryError('USAGE_INVALID', `size too large: ${JSON.stringify(text)}`);
  return bytes;
}
