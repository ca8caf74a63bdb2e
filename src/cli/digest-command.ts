import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';
import { DEFAULT_CHUNK_BYTES, digestFile } from '../index.js';
import { formatByteSize, parseChunkSize } from './parse-option.js';

/** `ferry digest FILE`: the file digest of PROTOCOL.md §7.2, to compare files out of band. */
export function registerDigestCommand(program: Command): void {
  program
    .command('digest')
    .description('print the ferry file digest of local files (PROTOCOL.md §7.2)')
    .argument('[files...]', 'local files')
    .option(
      '--chunk-size <bytes>',
      'chunk size the digest is computed for',
      formatByteSize(DEFAULT_CHUNK_BYTES),
    )
    .action(async (files: string[], flags: { chunkSize: string }) => {
      if (files.length === 0) throw new FerryError('USAGE_INVALID', 'usage: ferry digest FILE...');
      const chunkBytes = parseChunkSize(flags.chunkSize);
      for (const file of files) {
        const digest = await digestFile(file, { chunkBytes });
        process.stdout.write(`${digest.toString('hex')}  ${file}\n`);
      }
    });
}
