import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';
import { digestFile } from '../client-api.js';

/**
 * `ferry digest FILE`: the file digest of PROTOCOL.md §7.2, to compare files out of band. It takes no chunk
 * size: the digest is defined over fixed leaves, so every sender's digest of the file is this one.
 */
export function registerDigestCommand(program: Command): void {
  program
    .command('digest')
    .description('print the ferry file digest of local files (PROTOCOL.md §7.2)')
    .argument('[files...]', 'local files')
    .usage('[options] FILE...')
    .action(async (files: string[]) => {
      if (files.length === 0)
        throw new FerryError('USAGE_INVALID', 'name the files to digest: ferry digest FILE...');
      for (const file of files) {
        const digest = await digestFile(file);
        process.stdout.write(`${digest.toString('hex')}  ${file}\n`);
      }
    });
}
