// The server's own path checks (PROTOCOL.md §7.1), driven by an allowed client speaking raw protocol
// messages: the CLI refuses `..` before sending, so only a hand-made client can show the server refuses too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, readdir, symlink } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/errors/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FramedSocket, clientHandshake } from '../../src/channel/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FerryServer } from '../../src/server/index.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let server: FerryServer | undefined;
let socket: Socket | undefined;

before(async () => {
  dir = await makeTempDir();
});

after(async () => {
  socket?.destroy();
  await server?.close();
  await removeTempDir(dir);
});

test('an allowed client offering paths that escape the root gets PATH_INVALID or PATH_ESCAPES_ROOT per transfer and nothing is written', async () => {
  const serverIdentity = generateKeyPair();
  const clientIdentity = generateKeyPair();
  const root = join(dir, 'srv', 'root');
  const outside = join(dir, 'outside');
  await mkdir(outside, { recursive: true });
  server = await FerryServer.start({
    root,
    port: 0,
    identity: serverIdentity,
    authorize: (key) =>
      key.equals(clientIdentity.publicKey) ? { permissions: PERMISSION_UPLOAD } : undefined,
  });
  await symlink(outside, join(server.root, 'planted'));
  await mkdir(join(server.root, 'real'));
  await symlink(outside, join(server.root, 'real', 'link'));
  const treeBefore = await listTree(join(dir, 'srv'));

  socket = connect({ host: server.address.host, port: server.address.port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const channel = await clientHandshake(new FramedSocket(socket), {
    identity: clientIdentity,
    verifyServer: () => undefined,
  });
  assert.equal((await channel.receive()).type, 'WELCOME');

  const cases: Array<[path: string, code: keyof typeof ERROR_CODES]> = [
    ['../x', 'PATH_INVALID'],
    ['a/../../x', 'PATH_INVALID'],
    ['/etc/x', 'PATH_INVALID'],
    ['a\\..\\..\\x', 'PATH_INVALID'],
    ['.ferry/partial/x', 'PATH_INVALID'],
    ['planted/x', 'PATH_ESCAPES_ROOT'],
    ['real/link/x', 'PATH_ESCAPES_ROOT'],
    // Without OVERWRITE: with it, the link itself would be replaced, never followed (PROTOCOL.md §5.3).
    ['planted', 'PATH_ESCAPES_ROOT'],
  ];
  let ref = 0;
  for (const [path, code] of cases) {
    ref++;
    await channel.send({
      type: 'PUT_OFFER',
      ref,
      size: 5,
      mtimeMs: 0,
      chunkBytes: 64 * 1024,
      mode: 0o644,
      overwrite: path !== 'planted',
      fresh: false,
      path,
    });
    const reply = await channel.receive();
    assert.equal(reply.type, 'ERROR', `offer of ${JSON.stringify(path)} was answered with ${reply.type}`);
    assert.equal(
      reply.ref,
      ref,
      `the error for ${JSON.stringify(path)} belongs to its transfer, not the session`,
    );
    assert.equal(reply.code, ERROR_CODES[code].wire, `offer of ${JSON.stringify(path)}: expected ${code}`);
    assert.doesNotMatch(
      reply.detail,
      new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      'the detail echoes no server path',
    );
  }
  channel.close();

  assert.deepEqual(await readdir(outside), [], 'nothing was written through a link');
  assert.deepEqual(await listTree(join(dir, 'srv')), treeBefore, 'nothing was created in or beside the root');
});
