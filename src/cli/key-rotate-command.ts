import type { Command } from 'commander';
import { resolve } from 'node:path';
import { finishKeyRotation, prepareNextKey, startKeyRotation } from '../home/index.js';
import { homeOf } from './cli-context.js';
import { writeNote } from './note-lines.js';

/**
 * `ferry key prepare | rotate | finish`: the operator's side of server key rotation (PROTOCOL.md §13). The
 * server picks the state up when it starts (`ferry serve`).
 */
export function registerKeyRotateCommand(program: Command): void {
  const key = program
    .command('key')
    .description("rotate this server's key without every client running `ferry trust` (PROTOCOL.md §13)");

  key
    .command('prepare')
    .description('draw the next key; its private key goes to FILE, to keep offline until `ferry key rotate`')
    .requiredOption('--out <file>', 'where to write the next private key (created, mode 0600)')
    .action(async (opts: { out: string }, command: Command) => {
      const { commitment, id } = await prepareNextKey(homeOf(command), resolve(opts.out));
      process.stdout.write(`${commitment.toString('hex')}\n`);
      writeNote(
        `ferry: next key ${id} written to ${resolve(opts.out)}; keep it offline. ` +
          'Restart `ferry serve` so clients record its commitment.',
      );
    });

  key
    .command('rotate')
    .description('bring the prepared next key online; clients pinned to the current key move to it')
    .requiredOption('--next <file>', 'the private key `ferry key prepare` wrote')
    .requiredOption('--out <file>', 'where to write the key after it (created, mode 0600; keep it offline)')
    .action(async (opts: { next: string; out: string }, command: Command) => {
      const { newId } = await startKeyRotation(homeOf(command), {
        nextKeyPath: resolve(opts.next),
        outPath: resolve(opts.out),
      });
      process.stdout.write(`${newId}\n`);
      writeNote(
        `ferry: rotating to ${newId}. Restart \`ferry serve\`: it keeps the current key and proves the new one ` +
          'to each client; run `ferry key finish` once clients have connected. You may delete ' +
          `${resolve(opts.next)} now.`,
      );
    });

  key
    .command('finish')
    .description('end the rotation: the new key becomes this server’s identity')
    .action(async (_opts: unknown, command: Command) => {
      const { id } = await finishKeyRotation(homeOf(command));
      process.stdout.write(`${id}\n`);
      process.stderr.write('ferry: restart `ferry serve` to use the new key.\n');
    });
}
