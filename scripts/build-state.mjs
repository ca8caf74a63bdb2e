// Whether `npm run build`'s output is missing or older than what it is made from, as make decides: for
// `npm start` (scripts/start.mjs), which builds only then.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Written last by `npm run build` (scripts/bundle-cli.mjs): present only after a whole build. */
export const BUILT = join(ROOT, 'dist', 'cli-bundle', 'main.cjs.cache');
/** What the build is made from. */
const INPUTS = ['src', 'scripts/bundle-cli.mjs', 'package.json', 'package-lock.json', 'tsconfig.build.json'];

/** The newest modification time under `path` (a file, or a directory walked), 0 when it is absent. */
function newestMtime(path) {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return 0;
  }
  if (!stats.isDirectory()) return stats.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), 0);
}

/** True when there is no whole build, or an input changed after it. */
export function buildIsStale() {
  const built = newestMtime(BUILT);
  return built === 0 || INPUTS.some((input) => newestMtime(join(ROOT, input)) > built);
}
