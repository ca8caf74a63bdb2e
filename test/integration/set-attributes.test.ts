// SET_ATTRIBUTES (PROTOCOL.md §5.19) against a real server, driven by a client speaking raw protocol
// messages: the mode it gives (narrowed as a received file's: no setuid, setgid or write for others) and the
// mtime, the content left as it was, and what it refuses with which code (a link, as a link or on the way,
// a directory, a missing or escaping path, a client without the upload permission), with nothing outside
// the root touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/errors/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const MTIME_MS = 1_600_000_000_123;

test('SET_ATTRIBUTES gives an existing file a received mode and an mtime, never through a link, and refuses the rest per ref', async (t) => {
  const writer = generateKeyPair();
  const reader = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-attributes-', {
    authorize: (key) =>
      key.equals(writer.publicKey)
        ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }
        : key.equals(reader.publicKey)
          ? { permissions: PERMISSION_DOWNLOAD }
          : undefined,
  });
  const outside = join(dir, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'victim.txt'), 'victim\n');
  await chmod(join(outside, 'victim.txt'), 0o600);
  const root = server.root;
  await writeFile(join(root, 'file.txt'), 'content\n');
  await chmod(join(root, 'file.txt'), 0o644);
  await mkdir(join(root, 'sub'));
  await chmod(join(root, 'sub'), 0o755);
  await writeFile(join(root, 'sub', 'inner.txt'), 'inner\n');
  await chmod(join(root, 'sub', 'inner.txt'), 0o644);
  await symlink(join(outside, 'victim.txt'), join(root, 'to-victim'));
  await symlink(outside, join(root, 'planted'));
  const before = await stat(join(root, 'file.txt'));

  const guest = await openAdmittedSession(t, server.address, reader);
  await guest.send({ type: 'SET_ATTRIBUTES', ref: 1, mode: 0o600, mtimeMs: MTIME_MS, path: 'file.txt' });
  const refused = await guest.receive();
  assert.equal(refused.type === 'ERROR' && refused.code, ERROR_CODES.PERMISSION_DENIED.wire);
  assert.equal((await stat(join(root, 'file.txt'))).mode & 0o7777, 0o644, 'a reader changes nothing');
  guest.close();

  const channel = await openAdmittedSession(t, server.address, writer);
  const cases: Array<[path: string, mode: number, answer: 'ACK' | keyof typeof ERROR_CODES]> = [
    // 0o6777: setuid, setgid, sticky and write for all asked; a received file gets at most 0o755.
    ['file.txt', 0o6777, 'ACK'],
    ['sub/inner.txt', 0o600, 'ACK'],
    ['to-victim', 0o777, 'PATH_ESCAPES_ROOT'],
    ['planted/victim.txt', 0o777, 'PATH_ESCAPES_ROOT'],
    ['sub', 0o700, 'PATH_INVALID'],
    ['../outside/victim.txt', 0o777, 'PATH_INVALID'],
    ['missing', 0o644, 'PATH_NOT_FOUND'],
  ];
  // Pipelined: the server answers in arrival order (§6.1).
  for (const [i, [path, mode]] of cases.entries())
    await channel.send({ type: 'SET_ATTRIBUTES', ref: i + 1, mode, mtimeMs: MTIME_MS, path });
  for (const [i, [path, , answer]] of cases.entries()) {
    const reply = await channel.receive();
    assert.equal(reply.type === 'ACK' || reply.type === 'ERROR' ? reply.ref : -1, i + 1, path);
    if (answer === 'ACK') assert.equal(reply.type, 'ACK', `${path}: ${JSON.stringify(reply)}`);
    else
      assert.equal(
        reply.type === 'ERROR' && reply.code,
        ERROR_CODES[answer].wire,
        `${path}: expected ${answer}`,
      );
  }
  channel.close();

  const after = await stat(join(root, 'file.txt'));
  assert.equal(after.mode & 0o7777, 0o755, 'the mode a received file gets: no setuid, setgid, sticky');
  assert.equal(Math.trunc(after.mtimeMs), MTIME_MS);
  assert.equal(after.ino, before.ino, 'the file is changed in place, not replaced');
  assert.equal(await readFile(join(root, 'file.txt'), 'utf8'), 'content\n');
  const inner = await stat(join(root, 'sub', 'inner.txt'));
  assert.equal(inner.mode & 0o7777, 0o600);
  assert.equal(Math.trunc(inner.mtimeMs), MTIME_MS);
  const victim = await stat(join(outside, 'victim.txt'));
  assert.equal(victim.mode & 0o7777, 0o600, 'a link is never followed');
  assert.notEqual(Math.trunc(victim.mtimeMs), MTIME_MS);
  assert.ok((await lstat(join(root, 'to-victim'))).isSymbolicLink());
  assert.equal((await stat(join(root, 'sub'))).mode & 0o7777, 0o755, 'a directory is refused, unchanged');
});
