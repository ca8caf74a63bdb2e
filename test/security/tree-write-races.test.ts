// A local user who can write the server's root races a PUT_LINK, PUT_DIR or SET_ATTRIBUTES (stop 31): between
// the walk of the entry's path (every directory `lstat`ed) and the act, it swaps a directory on the way for a
// link to outside the root. symlink(2), rename(2) and mkdir(2) by name follow it, and so does an open of the
// directory or file whose mode and mtime are set (O_NOFOLLOW guards the last name only). The server re-checks
// the parent's real path right before it makes the entry, as a file's finish does (`assertDirUnmoved`), and
// checks that the kernel opened what it changes at the path it walked (`assertOpenedAt`): refused with
// PATH_ESCAPES_ROOT, nothing made or changed outside. The swap runs in the server's test hook between the
// check and the act (`beforeTreeWrite`), so it happens every run. Real FerryServer, raw session on loopback.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { PERMISSION_UPLOAD, type Message } from '../../src/protocol/index.js';
import type { TreeWriteStep } from '../../src/server/session-io.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const MTIME_MS = 1_650_000_000_000;

/**
 * A server whose root holds the directory `a`, and a directory `outside` beside the root; at `step` of the
 * first tree write, `a` is moved aside and a link to `outside` takes its name.
 */
async function racedServer(
  t: TestContext,
  step: TreeWriteStep,
): Promise<{ root: string; outside: string; channel: SecureChannel; swapped: () => boolean }> {
  let root = '';
  let outside = '';
  let swapped = false;
  const { dir, server } = await startTempDirServer(t, 'ferry-tree-write-races-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    beforeTreeWrite: async (_path, at) => {
      if (at !== step || swapped) return;
      swapped = true;
      await rename(join(root, 'a'), join(root, 'a-was'));
      await symlink(outside, join(root, 'a'));
    },
  });
  root = join(dir, 'root');
  outside = join(dir, 'outside');
  await mkdir(join(root, 'a'));
  await mkdir(outside);
  const channel = await openAdmittedSession(t, server.address, generateKeyPair());
  return { root, outside, channel, swapped: () => swapped };
}

/** Sends `message` and returns its answer: 'ACK', or 'ERROR ' and the code's name. */
async function answer(channel: SecureChannel, message: Message): Promise<string> {
  await channel.send(message);
  const reply = await channel.receive();
  if (reply.type !== 'ERROR') return reply.type;
  return `ERROR ${Object.entries(ERROR_CODES).find(([, spec]) => spec.wire === reply.code)?.[0]}`;
}

/** Sends `message` to a server racing it at `step`, and checks it is refused with nothing made outside. */
async function refusedNothingOutside(t: TestContext, step: TreeWriteStep, message: Message): Promise<void> {
  const { outside, channel, swapped } = await racedServer(t, step);
  assert.equal(await answer(channel, message), 'ERROR PATH_ESCAPES_ROOT');
  assert.ok(swapped(), 'the swap ran');
  assert.deepEqual(await readdir(outside), [], 'nothing was made outside the root');
}

test('PUT_LINK whose parent is swapped for a link after the walk is refused, and no link is made outside', async (t) => {
  await refusedNothingOutside(t, 'walked', {
    type: 'PUT_LINK',
    ref: 1,
    overwrite: false,
    mtimeMs: MTIME_MS,
    target: 'x',
    path: 'a/lnk',
  });
});

test('PUT_DIR whose parent is swapped for a link after the walk is refused, and no directory is made outside', async (t) => {
  await refusedNothingOutside(t, 'walked', {
    type: 'PUT_DIR',
    ref: 1,
    mode: 0o755,
    mtimeMs: MTIME_MS,
    path: 'a/new',
  });
});

/**
 * Sends `message` (its path `a/same`) to a server racing it at `step`, with `same` made on both sides by
 * `make` (the server's checks find its own, the open would reach the other), and checks it is refused and
 * the one outside keeps its mode and mtime.
 */
async function refusedUnchangedOutside(
  t: TestContext,
  step: TreeWriteStep,
  make: (path: string) => Promise<unknown>,
  message: Message,
): Promise<void> {
  const { root, outside, channel, swapped } = await racedServer(t, step);
  await make(join(root, 'a', 'same'));
  await make(join(outside, 'same'));
  const before = await stat(join(outside, 'same'));
  assert.equal(await answer(channel, message), 'ERROR PATH_ESCAPES_ROOT');
  assert.ok(swapped(), 'the swap ran');
  const after = await stat(join(outside, 'same'));
  assert.equal(after.mode & 0o7777, before.mode & 0o7777, 'the mode outside is unchanged');
  assert.equal(after.mtimeMs, before.mtimeMs, 'the mtime outside is unchanged');
}

test('PUT_DIR whose parent is swapped for a link before the directory is opened changes nothing outside', async (t) => {
  await refusedUnchangedOutside(t, 'made', (path) => mkdir(path, { mode: 0o700 }), {
    type: 'PUT_DIR',
    ref: 1,
    mode: 0o755,
    mtimeMs: MTIME_MS,
    path: 'a/same',
  });
});

test('SET_ATTRIBUTES whose parent is swapped for a link before the file is opened changes nothing outside', async (t) => {
  await refusedUnchangedOutside(t, 'checked', (path) => writeFile(path, 'content', { mode: 0o600 }), {
    type: 'SET_ATTRIBUTES',
    ref: 1,
    mode: 0o644,
    mtimeMs: MTIME_MS,
    path: 'a/same',
  });
});

test('PUT_LINK replacing a directory swapped for a link while it is cleared removes nothing outside', async (t) => {
  const { root, outside, channel, swapped } = await racedServer(t, 'clearing');
  // The directory the link replaces, and one of the same name and content outside.
  for (const base of [join(root, 'a'), outside]) {
    await mkdir(join(base, 'd'));
    await writeFile(join(base, 'd', 'f'), 'content');
  }
  const link: Message = {
    type: 'PUT_LINK',
    ref: 1,
    overwrite: true,
    replaceDir: true,
    mtimeMs: MTIME_MS,
    target: 'x',
    path: 'a/d',
  };
  assert.equal(await answer(channel, link), 'ERROR PATH_ESCAPES_ROOT');
  assert.ok(swapped(), 'the swap ran');
  assert.deepEqual(await readdir(join(outside, 'd')), ['f'], 'nothing outside was removed');
});

test('PUT_DIR whose missing parent would be made in a directory swapped for a link makes nothing outside', async (t) => {
  const dir: Message = { type: 'PUT_DIR', ref: 1, mode: 0o755, mtimeMs: MTIME_MS, path: 'a/missing/new' };
  await refusedNothingOutside(t, 'creating', dir);
});
