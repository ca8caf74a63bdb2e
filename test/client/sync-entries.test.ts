// How each side's tree becomes sync entries (src/client/sync-entries.ts): a server's listing, validated name
// by name, and a local destination, links included and never followed, ferry's own partials left out.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localDestinationEntries, remoteListingEntries } from '../../src/client/sync-entries.js';
import type { RemoteListing } from '../../src/client/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;

before(async () => {
  dir = await makeTempDir('ferry-sync-entries-');
});

after(async () => {
  await removeTempDir(dir);
});

function listing(entries: RemoteListing['entries']): RemoteListing {
  return { entries, isFile: false, mode: 0o755, mtimeMs: 0 };
}

function entry(
  kind: 'file' | 'dir' | 'link',
  path: string,
  linkTarget = '',
): RemoteListing['entries'][number] {
  return { kind, path, mode: 0o644, size: kind === 'file' ? 3 : 0, mtimeMs: 9, linkTarget };
}

test('remoteListingEntries refuses a listed name that is not a valid path below the listed directory', () => {
  for (const path of ['../x', 'a/../../x', '/etc/passwd', 'a//b', '..', 'a\\..\\x', 'nul\u0000'])
    assert.throws(
      () => remoteListingEntries(listing([entry('file', path)]), 'base', { dropOutsideLinks: true }),
      { code: 'PATH_INVALID' },
      JSON.stringify(path),
    );
  // '.ferry' is reserved first in a remote path: listed at the client's root it is refused.
  assert.throws(
    () => remoteListingEntries(listing([entry('dir', '.ferry')]), '', { dropOutsideLinks: true }),
    {
      code: 'PATH_INVALID',
    },
  );
});

test('remoteListingEntries keeps links inside the tree and drops, reporting, those that leave it', () => {
  const skipped: string[] = [];
  const entries = remoteListingEntries(
    listing([
      entry('dir', 'd'),
      entry('file', 'd/f'),
      entry('link', 'in', 'd/f'),
      entry('link', 'up', '../outside'),
      entry('link', 'abs', '/etc/passwd'),
      entry('link', 'chain', 'up/x'),
    ]),
    'base/tree',
    { dropOutsideLinks: true, onSkip: (path) => skipped.push(path) },
  );
  assert.deepEqual(
    entries.map((e) => `${e.kind} ${e.path}`),
    ['dir d', 'file d/f', 'link in'],
  );
  assert.deepEqual(skipped.sort(), ['abs', 'chain', 'up']);
});

test('localDestinationEntries lists files, directories and every link without following it, and leaves out ferry partials', async () => {
  const root = join(dir, 'dest');
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(root, 'sub', 'f'), 'abc');
  await writeFile(join(root, 'sub', '.f.ferry-part'), 'partial');
  await writeFile(join(root, 'sub', '.f.ferry-state'), 'state');
  await mkdir(join(dir, 'elsewhere'));
  await writeFile(join(dir, 'elsewhere', 'secret'), 's');
  await symlink(join(dir, 'elsewhere'), join(root, 'out'));
  const entries = await localDestinationEntries(root);
  assert.deepEqual(
    entries.map((e) => `${e.kind} ${e.path}${e.kind === 'link' ? ` -> ${e.target}` : ''}`),
    [`link out -> ${join(dir, 'elsewhere')}`, 'dir sub', 'file sub/f'],
  );
  assert.deepEqual(await localDestinationEntries(join(dir, 'missing')), []);
});
