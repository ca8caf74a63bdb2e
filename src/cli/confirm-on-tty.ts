import { createInterface } from 'node:readline/promises';

/**
 * Asks the user on the terminal whether to trust an unknown server key. Returns undefined when there is no
 * terminal to ask on: the caller then refuses, as OpenSSH does in batch mode.
 */
export function confirmOnTty(): ((address: string, id: string) => Promise<boolean>) | undefined {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  return async (address, id) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      process.stderr.write(`The server at ${address} is not known.\nIts ferry ID is ${id}\n`);
      process.stderr.write('Compare it with the ID its operator gave you (ferry id on the server).\n');
      const answer = await rl.question('Trust this server and remember its key? [y/N] ');
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  };
}
