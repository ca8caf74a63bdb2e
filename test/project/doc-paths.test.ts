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

/** `folder/file.ts` `name`: a file under src/ and the function, class or method of it the docs point at. */
const NAMED_IN_FILE = /`([a-z]+\/[a-z0-9-]+\.ts)` `([A-Za-z_][A-Za-z0-9_]*)`/g;

/** True when `source` declares `name` (a function, class, constant or type) or defines a method or field of it. */
function defines(source: string, name: string): boolean {
  const declared = new RegExp(`(?:function\\*?|class|const|let|interface|type)\\s+${name}\\b`);
  // A class member at the class body's indent (two spaces): a call inside a method sits deeper.
  const member = new RegExp(`^ {2}(?:(?:async|static|get|set|readonly)\\s+)*${name}\\s*[(<:=]`, 'm');
  return declared.test(source) || member.test(source);
}

test('every `folder/file.ts` `name` the docs pair names a file under src/ that defines that name', () => {
  const wrong: string[] = [];
  let named = 0;
  for (const doc of DOCS) {
    for (const [, file, name] of readFileSync(join(ROOT, doc), 'utf8').matchAll(NAMED_IN_FILE)) {
      named++;
      const path = join(ROOT, 'src', file!);
      // A split moves a function to a new file: the doc's pair must follow it.
      if (!existsSync(path)) wrong.push(`${doc}: ${file} does not exist`);
      else if (!defines(readFileSync(path, 'utf8'), name!))
        wrong.push(`${doc}: ${file} does not define ${name}`);
    }
  }
  assert.ok(named > 10, `the docs pair ${named} files with names: the pattern still finds them`);
  assert.deepEqual(wrong, []);
});
