// The command a banner prints for ferry itself (src/cli/ferry-command.ts): pasted, it must run this ferry.
// Real files: a `ferry` on a PATH is a link to the script, another executable, or a file that cannot run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ferryCommand, homeWord } from '../../src/cli/ferry-command.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

test('ferryCommand is `ferry` only when the PATH runs this one; else this one by path, ./ under the cwd', async (t) => {
  const dir = await makeTempDir('ferry-command-');
  t.after(() => removeTempDir(dir));
  const checkout = join(dir, 'my checkout');
  const script = join(checkout, 'bin', 'ferry');
  await mkdir(join(checkout, 'bin'), { recursive: true });
  await writeFile(script, '#!/bin/sh\n', { mode: 0o755 });
  const linked = join(dir, 'linked');
  await mkdir(linked);
  await symlink(script, join(linked, 'ferry'));
  const other = join(dir, 'other');
  await mkdir(other);
  await writeFile(join(other, 'ferry'), '#!/bin/sh\n', { mode: 0o755 });
  const notRunnable = join(dir, 'not-runnable');
  await mkdir(notRunnable);
  await writeFile(join(notRunnable, 'ferry'), '');
  await chmod(join(notRunnable, 'ferry'), 0o644);

  assert.equal(
    ferryCommand(script, checkout, '/usr/bin:/bin'),
    './bin/ferry',
    'none on the PATH, under the cwd',
  );
  assert.equal(ferryCommand(script, dir, '/usr/bin'), "'./my checkout/bin/ferry'", 'quoted for the shell');
  assert.equal(ferryCommand(script, other, undefined), `'${script}'`, 'outside the cwd: its whole path');
  assert.equal(ferryCommand(script, checkout, `/usr/bin:${linked}`), 'ferry', 'the PATH runs this one');
  assert.equal(
    ferryCommand(script, checkout, `${notRunnable}:${linked}`),
    'ferry',
    'one that cannot run is skipped',
  );
  assert.equal(
    ferryCommand(script, checkout, `${other}:${linked}`),
    './bin/ferry',
    'the shell would run another ferry first',
  );
  assert.equal(ferryCommand(undefined, checkout, linked), 'ferry');
});

test('homeWord names a home inside the cwd from there only beside a ./ ferry, else whole, quoted for the shell', () => {
  assert.equal(homeWord('/src/ferry/.ferry-home', './bin/ferry', '/src/ferry'), '.ferry-home');
  assert.equal(homeWord('/src/ferry/.ferry-home', 'ferry', '/src/ferry'), '/src/ferry/.ferry-home');
  assert.equal(homeWord('/srv/home', './bin/ferry', '/src/ferry'), '/srv/home');
  assert.equal(homeWord('/src/ferry', './bin/ferry', '/src/ferry'), '/src/ferry');
  assert.equal(homeWord('/src/ferry/my home', './bin/ferry', '/src/ferry'), "'my home'");
});
