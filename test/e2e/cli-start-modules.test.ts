// What a transfer command loads before it connects (issue 14: every ms of a `ferry send -r` counts). CPace's
// group, @noble/curves's ristretto255 (~25 ms of CPU to load), is pairing's alone: send, get and sync must not
// load it. The command's --help loads the same modules as a run of it (its module is loaded to register it),
// without a server. A module hook in the child records every package it resolves; `serve --help` (the server
// answers pairing, so it loads CPace) shows that the hook sees the curve when it is loaded. Run against the
// built CLI: `npm run build`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CURVE = '@noble/curves/ed25519.js';

/** Registers a resolve hook that appends each resolved package file's URL to the file named by its data. */
const HOOK_SOURCE = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.includes('/node_modules/')) appendFileSync(out, result.url + '\\n');
  return result;
}
`;

describe('the modules a command loads before connecting', () => {
  let dir: string;
  let hooks: string;
  let register: string;

  before(async () => {
    dir = await makeTempDir('ferry-start-modules-');
    hooks = join(dir, 'hooks.mjs');
    register = join(dir, 'register.mjs');
    await writeFile(hooks, HOOK_SOURCE);
  });
  after(async () => {
    await removeTempDir(dir);
  });

  /** The package files `ferry ARGS` resolved, one URL each. */
  async function packagesLoadedBy(args: readonly string[], name: string): Promise<string[]> {
    const out = join(dir, `${name}.txt`);
    await writeFile(out, '');
    await writeFile(
      register,
      `import { register } from 'node:module';\n` +
        `register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { out: ${JSON.stringify(out)} } });\n`,
    );
    const result = await runFerry(args, {
      env: {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(register).href}`.trim(),
      },
    });
    assertExit(result, 0, `ferry ${args.join(' ')}`);
    return (await readFile(out, 'utf8')).split('\n').filter((line) => line !== '');
  }

  test("serve loads CPace's curve (the hook sees it when it is loaded)", async () => {
    const loaded = await packagesLoadedBy(['serve', '--help'], 'serve');
    assert.ok(
      loaded.some((url) => url.endsWith(CURVE)),
      `serve --help resolved: ${loaded.join(', ')}`,
    );
  });

  for (const command of ['send', 'get', 'sync']) {
    test(`${command} does not load CPace's curve, but does load the handshake's ML-KEM`, async () => {
      const loaded = await packagesLoadedBy([command, '--help'], command);
      assert.ok(
        loaded.some((url) => url.endsWith('@noble/post-quantum/ml-kem.js')),
        `${command} --help resolved: ${loaded.join(', ')}`,
      );
      assert.ok(!loaded.some((url) => url.endsWith(CURVE)), `${command} --help loaded ${CURVE}`);
    });
  }
});
