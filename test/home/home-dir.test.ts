import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureHomeDir, resolveHomeDir } from '../../src/home/index.js';

test('`resolveHomeDir` prefers --home, then FERRY_HOME, then XDG_CONFIG_HOME, then ~/.config', () => {
  const env = { HOME: '/home/u', FERRY_HOME: '/srv/ferry', XDG_CONFIG_HOME: '/home/u/.xdg' };
  assert.equal(resolveHomeDir({ home: '/opt/f', env }), '/opt/f');
  assert.equal(resolveHomeDir({ env }), '/srv/ferry');
  assert.equal(
    resolveHomeDir({ env: { HOME: '/home/u', XDG_CONFIG_HOME: '/home/u/.xdg' } }),
    '/home/u/.xdg/ferry',
  );
  assert.equal(resolveHomeDir({ env: { HOME: '/home/u' } }), '/home/u/.config/ferry');
});

test('`resolveHomeDir` treats empty variables as unset and ignores a relative XDG_CONFIG_HOME', () => {
  assert.equal(
    resolveHomeDir({ home: '', env: { HOME: '/home/u', FERRY_HOME: '' } }),
    '/home/u/.config/ferry',
  );
  assert.equal(
    resolveHomeDir({ env: { HOME: '/home/u', XDG_CONFIG_HOME: 'rel/xdg' } }),
    '/home/u/.config/ferry',
  );
});

test('`resolveHomeDir` returns an absolute path and expands a leading ~', () => {
  assert.equal(resolveHomeDir({ home: 'rel/home', env: {} }), resolve('rel/home'));
  assert.equal(resolveHomeDir({ home: '~/f', env: { HOME: '/home/u' } }), '/home/u/f');
});

test(
  '`ensureHomeDir` creates the directory and its parents with mode 0700',
  { skip: process.platform === 'win32' },
  async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'ferry-home-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    const dir = join(base, 'a', 'ferry');
    await ensureHomeDir(dir);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    await ensureHomeDir(dir); // idempotent
  },
);
