import { createInterface } from 'node:readline/promises';
import { isatty } from 'node:tty';

/**
 * Asks the user on the terminal whether to trust an unknown server key. Returns undefined when there is no
 * terminal to ask on: the caller then refuses, as OpenSSH does in batch mode.
 *
 * Every client command calls this before it connects, and nearly every one never asks: the file descriptors
 * are tested (`isatty`) rather than `process.stdin`, whose first use builds a stream for fd 0 (issue 16: what a
 * command does not need costs every command's start). readline stays a static import: the CLI's bundle runs
 * as a script, where a dynamic `import()` of a builtin fails.
 */
export function confirmOnTty(): ((address: string, id: string) => Promise<boolean>) | undefined {
  if (!isatty(0) || !isatty(2)) return undefined;
  return async (address, id) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      process.stderr.write(`The server at ${address} is not known.\nIts ferry ID is ${id}\n`);
      process.stderr.write('Compare it with the ID its operator gave you (`ferry id` on the server).\n');
      const answer = await rl.question('Trust this server and remember its key? [y/N] ');
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  };
}
