// What a transfer command evaluates before it connects (issue 14: every ms of a `ferry send -r` counts). CPace's
// group, @noble/curves's ristretto255 (~25 ms of CPU to load), is pairing's alone: send, get and sync must not
// evaluate it. The command's --help evaluates the same modules as a run of it (its module is loaded to register
// it), without a server. The packages are inside the CLI's bundle (scripts/bundle-cli.mjs), where each module
// reached through a dynamic import is a function evaluated on first use, named after the module's path: V8's
// coverage of the child (NODE_V8_COVERAGE) says which of those functions ran. `serve --help` (the server
// answers pairing, so it evaluates CPace) shows that the coverage sees the curve when it is evaluated. Run
// against the built CLI: `npm run build`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CURVE = '@noble/curves/ed25519.js';
const ML_KEM = '@noble/post-quantum/ml-kem.js';

/** The part of V8's coverage report this test reads. */
interface Coverage {
  result: Array<{
    url: string;
    functions: Array<{ functionName: string; ranges: Array<{ count: number }> }>;
  }>;
}

describe('the modules a command evaluates before connecting', () => {
  let dir: string;

  before(async () => {
    dir = await makeTempDir('ferry-start-modules-');
  });
  after(async () => {
    await removeTempDir(dir);
  });

  /** The package modules of the bundle that `ferry ARGS` evaluated (their functions ran at least once). */
  async function packagesEvaluatedBy(args: readonly string[], name: string): Promise<string[]> {
    const out = join(dir, name);
    const result = await runFerry(args, { env: { NODE_V8_COVERAGE: out } });
    assertExit(result, 0, `ferry ${args.join(' ')}`);
    const evaluated: string[] = [];
    for (const file of await readdir(out)) {
      const coverage = JSON.parse(await readFile(join(out, file), 'utf8')) as Coverage;
      for (const script of coverage.result.filter((s) => s.url.endsWith('/cli-bundle/main.cjs')))
        for (const fn of script.functions)
          if (fn.functionName.includes('node_modules/') && fn.ranges[0]!.count > 0)
            evaluated.push(fn.functionName);
    }
    assert.ok(evaluated.length > 0, `the coverage of ferry ${args.join(' ')} shows the bundle's packages`);
    return evaluated;
  }

  test("serve evaluates CPace's curve (the coverage sees it when it is evaluated)", async () => {
    const evaluated = await packagesEvaluatedBy(['serve', '--help'], 'serve');
    assert.ok(
      evaluated.some((path) => path.endsWith(CURVE)),
      `serve --help evaluated: ${evaluated.join(', ')}`,
    );
  });

  for (const command of ['send', 'get', 'sync']) {
    test(`${command} does not evaluate CPace's curve, but does evaluate the handshake's ML-KEM`, async () => {
      const evaluated = await packagesEvaluatedBy([command, '--help'], command);
      assert.ok(
        evaluated.some((path) => path.endsWith(ML_KEM)),
        `${command} --help evaluated: ${evaluated.join(', ')}`,
      );
      assert.ok(!evaluated.some((path) => path.endsWith(CURVE)), `${command} --help evaluated ${CURVE}`);
    });
  }
});
