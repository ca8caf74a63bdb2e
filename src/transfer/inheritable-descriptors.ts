import { readdirSync, readFileSync } from 'node:fs';

/** Linux's O_CLOEXEC as `/proc/self/fdinfo` prints it (octal `flags:`); Node's `fs.constants` lacks it. */
const O_CLOEXEC = 0o2000000;

/**
 * The highest descriptor number {@link inheritableDescriptors} reports: a child is given one entry of stdio
 * per number up to the highest, so a process that inherited a descriptor numbered past this starts none.
 */
export const MAX_INHERITABLE_DESCRIPTOR = 1023;

/**
 * The descriptors above 2 that a program this process starts would inherit: those open without close-on-exec.
 * Every descriptor Node and libuv open is close-on-exec, so these came from whoever started this process (a
 * shell's `5>log`, a supervisor's socket, a library caller's pipe), and libuv's spawn passes them on unless
 * its stdio names their numbers. Undefined where they cannot be listed (no `/proc`) or one is numbered past
 * {@link MAX_INHERITABLE_DESCRIPTOR}: then no child is started that would keep them. Read from procfs with
 * synchronous calls: a few microseconds each, where a pool thread's round trip each would delay the caller.
 */
export function inheritableDescriptors(): number[] | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return undefined;
  }
  const inheritable: number[] = [];
  for (const name of names) {
    const fd = Number(name);
    if (fd <= 2) continue;
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${name}`, 'latin1');
    } catch {
      continue; // closed since the listing (the listing's own descriptor, above all)
    }
    const flags = /^flags:\s*([0-7]+)$/m.exec(info)?.[1];
    if (flags === undefined) return undefined;
    if ((parseInt(flags, 8) & O_CLOEXEC) !== 0) continue;
    if (fd > MAX_INHERITABLE_DESCRIPTOR) return undefined;
    inheritable.push(fd);
  }
  return inheritable.sort((a, b) => a - b);
}
