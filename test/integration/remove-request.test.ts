// REMOVE_REQUEST (PROTOCOL.md §5.16) against a real server, driven by a client speaking raw protocol
// messages: what it removes (a file, a link as a link, an empty directory), what it refuses and with which
// code (a non-empty directory, a path through a link, an escaping or missing path, a client without the
// upload permission), and that nothing outside the root is touched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/errors/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FerryServer } from '../../src/server/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let server: FerryServer | undefined;

before(async () => {
  dir = await makeTempDir('ferry-remove-');
});

after(async () => {
  await server?.close();
  await removeTempDir(dir);
});

test('REMOVE_REQUEST removes a file, a link (not its target) and an empty directory, and refuses the rest per ref', async (t) => {
  const writer = generateKeyPair();
  const reader = generateKeyPair();
  const outside = join(dir, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'victim.txt'), 'victim\n');
  server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: (key) =>
      key.equals(writer.publicKey)
        ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }
        : key.equals(reader.publicKey)
          ? { permissions: PERMISSION_DOWNLOAD }
          : undefined,
  });
  const root = server.root;
  await writeFile(join(root, 'file.txt'), 'x');
  await symlink(join(outside, 'victim.txt'), join(root, 'to-victim'));
  await mkdir(join(root, 'empty'));
  await mkdir(join(root, 'full'));
  await writeFile(join(root, 'full', 'inside.txt'), 'y');
  await symlink(outside, join(root, 'planted'));

  const guest = await openAdmittedSession(t, server.address, reader);
  await guest.send({ type: 'REMOVE_REQUEST', ref: 1, path: 'file.txt' });
  const refused = await guest.receive();
  assert.equal(refused.type, 'ERROR');
  assert.equal(refused.type === 'ERROR' && refused.code, ERROR_CODES.PERMISSION_DENIED.wire);
  assert.ok((await lstat(join(root, 'file.txt'))).isFile(), 'a client without upload removes nothing');
  guest.close();

  const channel = await openAdmittedSession(t, server.address, writer);
  const cases: Array<[path: string, answer: 'ACK' | keyof typeof ERROR_CODES]> = [
    ['file.txt', 'ACK'],
    ['to-victim', 'ACK'],
    ['empty', 'ACK'],
    ['full', 'PATH_INVALID'],
    ['planted/victim.txt', 'PATH_ESCAPES_ROOT'],
    ['../outside/victim.txt', 'PATH_INVALID'],
    ['.ferry', 'PATH_INVALID'],
    ['missing', 'PATH_NOT_FOUND'],
  ];
  // Pipelined: the server answers in arrival order (§6.1).
  for (const [i, [path]] of cases.entries()) await channel.send({ type: 'REMOVE_REQUEST', ref: i + 1, path });
  for (const [i, [path, answer]] of cases.entries()) {
    const reply = await channel.receive();
    assert.equal(reply.type === 'ACK' || reply.type === 'ERROR' ? reply.ref : -1, i + 1, path);
    if (answer === 'ACK') assert.equal(reply.type, 'ACK', `${path}: ${JSON.stringify(reply)}`);
    else {
      assert.equal(reply.type, 'ERROR', path);
      assert.equal(
        reply.type === 'ERROR' && reply.code,
        ERROR_CODES[answer].wire,
        `${path}: expected ${answer}`,
      );
    }
  }
  channel.close();
  for (const gone of ['file.txt', 'to-victim', 'empty'])
    await assert.rejects(lstat(join(root, gone)), { code: 'ENOENT' }, gone);
  assert.equal(
    await readFile(join(outside, 'victim.txt'), 'utf8'),
    'victim\n',
    'a link is removed, not followed',
  );
  assert.ok((await lstat(join(root, 'full', 'inside.txt'))).isFile(), 'a non-empty directory stays whole');
  assert.ok((await lstat(join(root, 'planted'))).isSymbolicLink());
});
