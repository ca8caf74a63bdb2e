// Replays every saved reproducer in test/fuzz/corpus/ (written by scripts/fuzz.ts when a property broke).
// A reproducer is the run seed and input index: the input is regenerated exactly from them. Entries with
// `"status": "open"` are bugs not fixed yet and run as todo; set `"status": "fixed"` once the fix lands, so
// the input guards against a regression. Server inputs need a running server and are replayed with
// `node --import tsx scripts/fuzz.ts --target server --seed S --from I --runs 1` instead.
import { test } from 'node:test';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '../helpers/seeded-random.js';
import { createFuzzTarget, isFuzzTargetName } from './fuzz-targets.js';

const CORPUS_DIR = fileURLToPath(new URL('./corpus/', import.meta.url));

interface Reproducer {
  target: string;
  seed: number;
  index: number;
  inputSeed: number;
  message: string;
  status?: 'open' | 'fixed';
}

const files = (await readdir(CORPUS_DIR).catch(() => [] as string[]))
  .filter((f) => f.endsWith('.json'))
  .sort();

test('the fuzz corpus directory is readable', () => undefined);

for (const file of files) {
  const reproducer = JSON.parse(await readFile(`${CORPUS_DIR}${file}`, 'utf8')) as Reproducer;
  // The targets with a real server need a work directory: scripts/fuzz.ts replays them.
  const skip =
    !isFuzzTargetName(reproducer.target) ||
    reproducer.target === 'server' ||
    /-(delta|sync)$/.test(reproducer.target);
  test(
    `fuzz reproducer ${file} (${reproducer.message.slice(0, 80)}) no longer fails`,
    {
      skip: skip ? 'replayed by scripts/fuzz.ts' : false,
      todo: reproducer.status === 'open' ? 'open bug' : false,
    },
    async () => {
      if (!isFuzzTargetName(reproducer.target)) return;
      const target = await createFuzzTarget(reproducer.target);
      try {
        await target.one(new SeededRandom(reproducer.inputSeed), reproducer.index);
      } finally {
        await target.close?.();
      }
    },
  );
}
