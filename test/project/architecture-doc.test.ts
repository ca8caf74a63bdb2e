// docs/ARCHITECTURE.md's layer table says which folder may import which; eslint.config.js enforces it. This
// test lints one import of every folder from every folder with the rule eslint computes for that folder, and
// compares the verdicts with the table, so neither can change without the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ESLint, Linter } from 'eslint';

const root = new URL('../../', import.meta.url);
const ARCHITECTURE = readFileSync(new URL('docs/ARCHITECTURE.md', root), 'utf8');
const FOLDERS = [
  'errors',
  'crypto',
  'protocol',
  'machines',
  'channel',
  'transfer',
  'home',
  'objectstore',
  'server',
  'client',
  'cli',
  'web',
];

interface LayerRow {
  folder: string;
  /** The folders named in backticks in the "may import" cell. */
  mayImport: Set<string>;
  pure: boolean;
  /** The cell says the folder reaches others only through their index.ts. */
  indexOnly: boolean;
  /** The cell says the folder reaches some layers through src/index.ts, the public API. */
  usesPublicApi: boolean;
}

function layerTable(): LayerRow[] {
  return ARCHITECTURE.split('\n')
    .filter((line) => /^\| `src\/[a-z]+\/`/.test(line))
    .map((line) => {
      const cells = line.split('|').map((cell) => cell.trim());
      const folder = /^`src\/([a-z]+)\/`$/.exec(cells[1]!)![1]!;
      const mayImportCell = cells[3]!;
      const named = [...mayImportCell.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!);
      return {
        folder,
        mayImport: new Set(named.filter((name) => FOLDERS.includes(name))),
        pure: /\bpure\b/.test(mayImportCell),
        indexOnly: mayImportCell.includes('through its `index.ts`'),
        usesPublicApi: mayImportCell.includes('through `src/index.ts`'),
      };
    });
}

type RuleEntry = Linter.RuleEntry;

/** The `no-restricted-imports` setting eslint applies to a file in `src/<folder>/`. */
async function importRuleOf(eslint: ESLint, folder: string): Promise<RuleEntry | undefined> {
  const config = (await eslint.calculateConfigForFile(`src/${folder}/probe.ts`)) as {
    rules?: Record<string, RuleEntry>;
  };
  return config.rules?.['no-restricted-imports'];
}

/** True when the rule lets a file in `src/<folder>/` import `specifier`. */
function allows(rule: RuleEntry | undefined, folder: string, specifier: string): boolean {
  if (rule === undefined) return true;
  const messages = new Linter({ configType: 'flat' }).verify(
    `import '${specifier}';\n`,
    [{ files: ['**/*.js'], rules: { 'no-restricted-imports': rule } }],
    `src/${folder}/probe.js`,
  );
  assert.ok(
    messages.every((m) => m.ruleId === 'no-restricted-imports'),
    JSON.stringify(messages),
  );
  return messages.length === 0;
}

test('ARCHITECTURE.md has one row per source folder', () => {
  assert.deepEqual(
    layerTable()
      .map((row) => row.folder)
      .sort(),
    [...FOLDERS].sort(),
  );
});

test("ARCHITECTURE.md's layer table is exactly what eslint.config.js enforces", async () => {
  const eslint = new ESLint({ cwd: new URL('.', root).pathname });
  for (const row of layerTable()) {
    const rule = await importRuleOf(eslint, row.folder);
    for (const other of FOLDERS.filter((name) => name !== row.folder)) {
      assert.equal(
        allows(rule, row.folder, `../${other}/index.js`),
        row.mayImport.has(other),
        `src/${row.folder}/ importing ${other}/: the table says ${row.mayImport.has(other) ? 'yes' : 'no'}`,
      );
    }
    for (const other of row.mayImport) {
      assert.equal(
        allows(rule, row.folder, `../${other}/some-module.js`),
        !row.indexOnly,
        `src/${row.folder}/ reaching past ${other}/index.ts: the table says ${row.indexOnly ? 'no' : 'yes'}`,
      );
    }
    assert.equal(allows(rule, row.folder, 'node:fs'), !row.pure, `src/${row.folder}/ and node:fs`);
    assert.equal(allows(rule, row.folder, 'node:net'), !row.pure, `src/${row.folder}/ and node:net`);
    if (row.usesPublicApi)
      assert.ok(allows(rule, row.folder, '../index.js'), `src/${row.folder}/ and src/index.ts`);
  }
});

test('the CLI reaches the client, the server and the dashboard only through src/index.ts', async () => {
  const eslint = new ESLint({ cwd: new URL('.', root).pathname });
  const rule = await importRuleOf(eslint, 'cli');
  assert.ok(allows(rule, 'cli', '../index.js'));
  for (const folder of ['client', 'server', 'web']) {
    assert.equal(allows(rule, 'cli', `../${folder}/index.js`), false, `cli importing ${folder}/index.js`);
    assert.equal(
      allows(rule, 'cli', `../${folder}/send-files.js`),
      false,
      `cli importing deep into ${folder}/`,
    );
  }
});

test('the CLI runs whole operations: the parts ARCHITECTURE.md names are refused to src/cli/, the operations allowed', async () => {
  const eslint = new ESLint({ cwd: new URL('.', root).pathname });
  const rule = await importRuleOf(eslint, 'cli');
  // src/client-api.ts is the client half of src/index.ts: the same names through either.
  const named = (name: string, from = '../index.js'): boolean => {
    const messages = new Linter({ configType: 'flat' }).verify(
      `import { ${name} } from '${from}';\n`,
      [{ files: ['**/*.js'], rules: { 'no-restricted-imports': rule! } }],
      'src/cli/probe.js',
    );
    return messages.length === 0;
  };
  const sentence = /it may not assemble an operation from the parts \(([^)]*)\)/.exec(
    ARCHITECTURE.replace(/\s+/g, ' '),
  );
  assert.ok(sentence, 'ARCHITECTURE.md names the parts the CLI may not assemble');
  const parts = [...sentence[1]!.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!);
  assert.ok(parts.length >= 4, parts.join(', '));
  for (const part of parts) {
    assert.equal(named(part), false, `src/cli/ importing ${part}`);
    assert.equal(named(part, '../client-api.js'), false, `src/cli/ importing ${part} from client-api.js`);
  }
  for (const operation of [
    'sendPaths',
    'getPaths',
    'listFiles',
    'pairWithServer',
    'pairingPins',
    'digestFile',
  ])
    assert.equal(named(operation), true, `src/cli/ importing ${operation}`);
});
