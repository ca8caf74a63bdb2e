const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

/** Parses a byte count such as `4096`, `4K`, `64M`, `1G`, `1GiB` (binary units). */
export function parseSize(text: string): number {
  const match = /^(\d+)([kmg]?)(i?b)?$/i.exec(text.trim());
  if (!match) throw new Error(`not a size: ${text}`);
  return Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
}

/** `1073741824` -> `1 GiB`, `4096` -> `4 KiB`, `1000` -> `1000 B`. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const)
    if (bytes >= size && bytes % (size / 16) === 0) return `${Number((bytes / size).toFixed(2))} ${unit}`;
  return `${bytes} B`;
}
