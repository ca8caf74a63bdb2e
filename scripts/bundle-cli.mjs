#!/usr/bin/env node
// The second step of `npm run build`, after tsc: bundles the CLI that bin/ferry runs into dist/cli-bundle/
// (issues 14 and 16: loading ~250-330 separate ES modules from dist/ cost ~0.1-0.2 s of CPU before a command's
// first byte). Library users keep tsc's one-file-per-module dist/ (dist/index.js).
//
// - Input is tsc's output (dist/), so the bundle runs exactly the JavaScript tsc emitted; esbuild follows
//   tsc's source maps, so the bundle's map points into src/.
// - Code splitting keeps command-modules.ts's lazy loading: each subcommand's dynamic import becomes a chunk.
// - The two worker threads' entry files are bundled too, under their own names, in the same folder as every
//   chunk: the code that starts them (seal-pool.ts, small-file-placer.ts) resolves `./seal-worker.js` and
//   `./small-file-worker.js` against its own import.meta.url, which in a bundle is its chunk's, in this folder.
//   Likewise main.ts finds package.json at `../../package.json`: dist/cli-bundle/ is as deep as dist/cli/.
// - Dependencies stay external: they ship in node_modules (the package bundles them for `npm pack`).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = 'dist/cli-bundle';
/** Entry name (the output file's base name) -> tsc's output it is built from. */
const ENTRIES = {
  main: 'dist/cli/main.js',
  'seal-worker': 'dist/transfer/pipeline/seal-worker.js',
  'small-file-worker': 'dist/server/small-file-worker.js',
};

// Chunk names carry a content hash: without a clean folder, stale chunks of earlier builds would pile up.
await rm(`${ROOT}${OUT}`, { recursive: true, force: true });
await build({
  absWorkingDir: ROOT,
  entryPoints: Object.entries(ENTRIES).map(([out, input]) => ({ in: input, out })),
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunk-[hash]',
  sourcemap: 'linked',
  logLevel: 'warning',
});
for (const name of Object.keys(ENTRIES))
  if (!existsSync(`${ROOT}${OUT}/${name}.js`))
    throw new Error(`bundle-cli: ${OUT}/${name}.js was not written`);
