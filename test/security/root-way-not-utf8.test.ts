// The way to a server's root (or a home) through a link whose target is not UTF-8 (stop 44's Left, fixed at
// stop 45). `kernelWay` read each link's target as a string, which replaces the byte 0xFE with U+FFFD: the
// name it then looked up was another or none, and the start failed with ENOENT on a root the kernel reaches.
// Read as bytes, the way is walked as the kernel walks it, and every place on it is judged (stop 44): a
// directory others may write that only such a link leads through is refused. Real links, a real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryError } from '../../src/errors/index.js';
import { refuseUnlessAncestorsOurs } from '../../src/home/index.js';
import { FerryServer } from '../../src/server/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { notUtf8Name } from '../helpers/not-utf8-name.js';

const skip = process.geteuid === undefined && 'no uids, no ancestors check (Windows)';

test('a root reached through a link whose target is not UTF-8 is served', { skip }, async (t) => {
  const dir = await makeTempDir('ferry-root-way-');
  t.after(() => removeTempDir(dir));
  await mkdir(join(dir, 'data'));
  await writeFile(join(dir, 'data', 'served.txt'), 'x');
  // root -> DIR/caf\xfe -> DIR/data
  const cafe = notUtf8Name(dir, 'caf');
  await symlink(join(dir, 'data'), cafe);
  await symlink(cafe, join(dir, 'root'));
  const started = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    partialSweepIntervalMs: 0,
    authorize: () => undefined,
  }).catch((err: unknown) => err as Error);
  assert.ok(started instanceof FerryServer, started instanceof Error ? started.message : undefined);
  await started.close();
});

test(
  'a directory others may write on the way through such a link is refused, as on any way',
  { skip },
  async (t) => {
    const dir = await makeTempDir('ferry-root-way-');
    t.after(() => removeTempDir(dir));
    await mkdir(join(dir, 'data'));
    // root -> DIR/shared/caf\xfe -> DIR/data, `shared` writable by all: on neither the given nor the real path.
    await mkdir(join(dir, 'shared'));
    await chmod(join(dir, 'shared'), 0o777);
    const cafe = notUtf8Name(join(dir, 'shared'), 'caf');
    await symlink(join(dir, 'data'), cafe);
    await symlink(cafe, join(dir, 'root'));
    for (const place of [
      { code: 'ROOT_UNSAFE', name: 'the server root', itself: true },
      { code: 'HOME_UNSAFE', name: 'the home' },
    ] as const)
      await assert.rejects(refuseUnlessAncestorsOurs(join(dir, 'root'), place), (err: unknown) => {
        assert.ok(err instanceof FerryError, String(err));
        assert.equal(err.code, place.code);
        assert.match(err.message, new RegExp(`shared, on the way to ${place.name} .* writable by others`));
        return true;
      });
  },
);
