import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';
import { DEFAULT_CHUNK_BYTES, FileDigestBuilder, chunkCount } from '../protocol/index.js';
import { SourceFile } from '../transfer/index.js';
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
        const source = await SourceFile.open(file);
        try {
          const builder = new FileDigestBuilder(source.size, chunkBytes);
          const scratch = Buffer.allocUnsafe(Math.min(chunkBytes, 1024 * 1024));
          for (let i = 0; i < chunkCount(source.size, chunkBytes); i++) {
            builder.addChunkHash(await source.chunkHash(i, chunkBytes, scratch));
          }
          process.stdout.write(`${builder.digest().toString('hex')}  ${file}\n`);
        } finally {
          await source.close();
        }
      }
    });
}
