// The one placement rule of `send` and `get` (src/client/destination.ts), checked on a side whose paths are a
// plain table: the real sides (LIST SELF_ONLY on a server, lstat here) are exercised end to end in
// test/e2e/cli-targets.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FerryError } from '../../src/errors/index.js';
import {
  resolveDestination,
  type DestinationRequest,
  type DestinationSide,
  type PathKind,
} from '../../src/client/index.js';

/** A server holding `inbox/` (a directory) and `notes.txt` (a file) under its root `''`. */
function side(): DestinationSide & { asked: string[] } {
  const kinds = new Map<string, PathKind>([
    ['', 'dir'],
    ['inbox', 'dir'],
    ['notes.txt', 'file'],
  ]);
  const asked: string[] = [];
  return {
    asked,
    kindOf: (path) => {
      asked.push(path);
      return Promise.resolve(kinds.get(path) ?? 'missing');
    },
    parentOf: (path) => (path === '' ? undefined : path.slice(0, Math.max(0, path.lastIndexOf('/')))),
    show: (path) => `host:7443/${path}`,
    where: 'on the server',
  };
}

function request(path: string, more: Partial<DestinationRequest> = {}): DestinationRequest {
  return { path, directory: false, sources: 1, mkdir: false, ...more };
}

test('resolveDestination puts sources into an existing directory, and one source under any other name', async () => {
  assert.deepEqual(await resolveDestination(request('inbox'), side()), { kind: 'into', dir: 'inbox' });
  assert.deepEqual(await resolveDestination(request('inbox', { sources: 3 }), side()), {
    kind: 'into',
    dir: 'inbox',
  });
  assert.deepEqual(await resolveDestination(request('new.txt'), side()), { kind: 'as', path: 'new.txt' });
  assert.deepEqual(await resolveDestination(request('notes.txt'), side()), { kind: 'as', path: 'notes.txt' });
  assert.deepEqual(await resolveDestination(request('inbox/new.txt'), side()), {
    kind: 'as',
    path: 'inbox/new.txt',
  });
});

test('resolveDestination refuses a missing parent naming it, unless mkdir; it never creates anything itself', async () => {
  const checked = side();
  await assert.rejects(
    resolveDestination(request('typo/deep/a.txt'), checked),
    (err: FerryError) =>
      err.code === 'PATH_NOT_FOUND' &&
      err.statement === 'no such file or directory: host:7443/typo/deep: no such directory on the server' &&
      err.hint === 'add --mkdir to create it',
  );
  assert.deepEqual(checked.asked, ['typo/deep/a.txt', 'typo/deep']);
  assert.deepEqual(await resolveDestination(request('typo/deep/a.txt', { mkdir: true }), side()), {
    kind: 'as',
    path: 'typo/deep/a.txt',
  });
  await assert.rejects(resolveDestination(request('notes.txt/a'), side()), {
    code: 'USAGE_INVALID',
    message: /host:7443\/notes\.txt is a file on the server, not a directory/,
  });
});

test('resolveDestination needs a directory for several sources or a trailing /: missing needs mkdir, a file is refused', async () => {
  for (const more of [{ sources: 2 }, { directory: true }]) {
    await assert.rejects(resolveDestination(request('new', more), side()), { code: 'PATH_NOT_FOUND' });
    assert.deepEqual(await resolveDestination(request('new', { ...more, mkdir: true }), side()), {
      kind: 'into',
      dir: 'new',
    });
    await assert.rejects(resolveDestination(request('notes.txt', { ...more, mkdir: true }), side()), {
      code: 'USAGE_INVALID',
    });
  }
});
