import { readdirSync } from 'node:fs';

/**
 * The highest descriptor number {@link openDescriptors} reports: a child is given one entry of stdio per
 * number up to the highest, so a process with a descriptor numbered past this starts none.
 */
export const MAX_LISTED_DESCRIPTOR = 1023;

/**
 * The numbers of the descriptors open in this process above 2, from `/proc/self/fd` (one `readdir`, ~0.05 ms
 * of CPU for 50). Undefined where they cannot be listed (no `/proc`) or one is numbered past
 * {@link MAX_LISTED_DESCRIPTOR}. Synchronous: a pool thread's round trip would delay the caller more.
 */
export function openDescriptors(): number[] | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return undefined;
  }
  const open = names.map(Number).filter((fd) => fd > 2);
  if (open.some((fd) => !(fd <= MAX_LISTED_DESCRIPTOR))) return undefined;
  return open.sort((a, b) => a - b);
}
