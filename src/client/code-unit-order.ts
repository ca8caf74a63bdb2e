/**
 * Code-unit order (not the locale's): the same on every machine, and the order in which the paths starting
 * with a prefix lie together, as `startsWith` and a binary search over sorted paths need.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
