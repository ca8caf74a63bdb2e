// The docs send a reviewer to files by name (`src/...`, `test/...`): a file moved or split without its
// docs leaves them pointing nowhere, the first thing a new reader trips on. Every such path written in
// backticks in README.md and docs/*.md must exist in the checkout (a `*` matches within one folder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((name) => `docs/${name}`)].filter((doc) =>
  doc.endsWith('.md'),
);
const PATH = /`((?:src|test|bench|scripts|contrib)\/[A-Za-z0-9_.*/-]+)`/g;

function exists(path: string): boolean {
  if (!path.includes('*')) return existsSync(join(ROOT, path));
  const folder = join(ROOT, dirname(path));
  const pattern = new RegExp(`^${basename(path).replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`);
  return existsSync(folder) && readdirSync(folder).some((name) => pattern.test(name));
}

test('every src/, test/, bench/, scripts/ and contrib/ path the docs name in backticks exists', () => {
  const missing: string[] = [];
  let named = 0;
  for (const doc of DOCS) {
    for (const [, path] of readFileSync(join(ROOT, doc), 'utf8').matchAll(PATH)) {
      named++;
      if (!exists(path!.replace(/\/$/, ''))) missing.push(`${doc}: ${path}`);
    }
  }
  assert.ok(named > 50, `the docs name ${named} paths: the pattern still finds them`);
  assert.deepEqual(missing, []);
});
