// Server-side permissions and confinement (PROTOCOL.md §5.2, §7.1, §5.10-§5.12): a grant of `upload` or
// `download` only, a client confined to a subdirectory, and what the server itself refuses when a client
// speaks the raw protocol (the library refuses bad paths before sending, so only a hand-made client shows
// the server's own checks). Real server on loopback, real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import type { SecureChannel } from '../../src/channel/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { FerryServer, type ClientGrant } from '../../src/server/index.js';
import { getFiles, listFiles, sendFiles, sendTree, type ConnectOptions } from '../../src/client/index.js';
import {
  HASH_BYTES,
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  chunkHashOf,
  fileDigest,
  type ListEntry,
  type Message,
} from '../../src/protocol/index.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';

interface Rig {
  dir: string;
  root: string;
  server: FerryServer;
  /** Connect options for a client with `grant`. */
  client: (grant: ClientGrant) => ConnectOptions & { identity: KeyPair };
}

async function startRig(t: TestContext): Promise<Rig> {
  const grants = new Map<string, ClientGrant>();
  const { dir, server } = await startTempDirServer(t, 'ferry-permissions-', {
    authorize: (key) => grants.get(key.toString('hex')),
  });
  return {
    dir,
    root: server.root,
    server,
    client: (grant) => {
      const identity = generateKeyPair();
      grants.set(identity.publicKey.toString('hex'), grant);
      return {
        server: server.address,
        identity,
        verifyServer: () => undefined,
        retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
      };
    },
  };
}

async function list(options: ConnectOptions, path: string, recursive = false): Promise<ListEntry[]> {
  return (await listFiles({ ...options, remotePath: path, recursive })).entries;
}

/** An admitted raw session: the caller sends any message and reads the answers. */
async function rawSession(t: TestContext, rig: Rig, identity: KeyPair): Promise<SecureChannel> {
  return openAdmittedSession(t, rig.server.address, identity);
}

async function expectError(
  channel: SecureChannel,
  message: Message,
  code: keyof typeof ERROR_CODES,
): Promise<void> {
  await channel.send(message);
  const reply = await channel.receive();
  assert.equal(reply.type, 'ERROR', `${message.type} was answered with ${reply.type}`);
  assert.equal(reply.ref, (message as { ref: number }).ref, 'the error ends the operation, not the session');
  assert.equal(
    reply.code,
    ERROR_CODES[code].wire,
    `${message.type} ${JSON.stringify(message)}: expected ${code}`,
  );
}

function getRequest(ref: number, path: string): Message {
  return {
    type: 'GET_REQUEST',
    ref,
    chunkBytes: 64 * 1024,
    verifyOnly: false,
    heldSize: 0,
    haveDigest: Buffer.alloc(HASH_BYTES),
    ranges: [],
    path,
  };
}

test('a client allowed only to upload cannot get or list (PERMISSION_DENIED), and can still send', async (t) => {
  const rig = await startRig(t);
  await writeFile(join(rig.root, 'secret.txt'), 'secret');
  const uploader = rig.client({ permissions: PERMISSION_UPLOAD });
  const dest = join(rig.dir, 'dest');
  await assert.rejects(getFiles({ ...uploader, remotePaths: ['secret.txt'], localDir: dest }), {
    code: 'PERMISSION_DENIED',
  });
  await assert.rejects(getFiles({ ...uploader, remotePaths: [''], localDir: dest, recursive: true }), {
    code: 'PERMISSION_DENIED',
  });
  await assert.rejects(list(uploader, ''), { code: 'PERMISSION_DENIED' });
  await assert.rejects(readdir(dest), { code: 'ENOENT' }, 'a failed get creates nothing locally');
  const source = join(rig.dir, 'up.txt');
  await writeFile(source, 'up');
  await sendFiles({ ...uploader, files: [source] });
  assert.equal(await readFile(join(rig.root, 'up.txt'), 'utf8'), 'up');
});

test('SELF_ONLY tells an upload-only client file from directory and nothing more (no entries, mode or mtime) and names a missing path PATH_NOT_FOUND', async (t) => {
  const rig = await startRig(t);
  await mkdir(join(rig.root, 'inbox'));
  await writeFile(join(rig.root, 'inbox', 'secret.txt'), 'secret');
  const uploader = rig.client({ permissions: PERMISSION_UPLOAD });
  const channel = await rawSession(t, rig, uploader.identity);
  const ask = async (ref: number, path: string): Promise<Message> => {
    await channel.send({ type: 'LIST_REQUEST', ref, recursive: false, selfOnly: true, path });
    return channel.receive();
  };
  const dir = await ask(1, 'inbox');
  assert.equal(dir.type, 'LIST_END');
  assert.deepEqual(dir.type === 'LIST_END' && [dir.totalEntries, dir.isFile], [0, false]);
  const file = await ask(2, 'inbox/secret.txt');
  assert.deepEqual(
    file.type === 'LIST_END' && [file.totalEntries, file.isFile, file.mode, file.mtimeMs],
    [0, true, 0, 0],
    'the kind alone: no mode or mtime for a client that may not download',
  );
  await expectError(
    channel,
    { type: 'LIST_REQUEST', ref: 3, recursive: false, selfOnly: true, path: 'typo/x' },
    'PATH_NOT_FOUND',
  );
  // A real listing still needs the download permission.
  await expectError(
    channel,
    { type: 'LIST_REQUEST', ref: 4, recursive: false, selfOnly: false, path: 'inbox' },
    'PERMISSION_DENIED',
  );
});

test('a client allowed only to download cannot send files, directories or links (PERMISSION_DENIED), and can still get', async (t) => {
  const rig = await startRig(t);
  await writeFile(join(rig.root, 'public.txt'), 'public');
  const downloader = rig.client({ permissions: PERMISSION_DOWNLOAD });
  const before = await listTree(rig.root);
  const source = join(rig.dir, 'tree');
  await mkdir(join(source, 'empty'), { recursive: true });
  await writeFile(join(source, 'f.txt'), 'f');
  await symlink('f.txt', join(source, 'l'));
  await assert.rejects(sendFiles({ ...downloader, files: [join(source, 'f.txt')] }), {
    code: 'PERMISSION_DENIED',
  });
  await assert.rejects(sendTree({ ...downloader, dirs: [source] }), { code: 'PERMISSION_DENIED' });
  assert.deepEqual(await listTree(rig.root), before, 'nothing was written under the root');

  const channel = await rawSession(t, rig, downloader.identity);
  await expectError(
    channel,
    { type: 'PUT_DIR', ref: 1, mode: 0o755, mtimeMs: 0, path: 'd' },
    'PERMISSION_DENIED',
  );
  await expectError(
    channel,
    { type: 'PUT_LINK', ref: 2, overwrite: false, mtimeMs: 0, target: 'public.txt', path: 'l' },
    'PERMISSION_DENIED',
  );
  assert.deepEqual(await listTree(rig.root), before);

  const dest = join(rig.dir, 'dest');
  await getFiles({ ...downloader, remotePaths: ['public.txt'], localDir: dest });
  assert.equal(await readFile(join(dest, 'public.txt'), 'utf8'), 'public');
});

test('a client confined to `sub` sees only sub (its root listing is sub’s contents), and its files land under sub', async (t) => {
  const rig = await startRig(t);
  await mkdir(join(rig.root, 'sub', 'inner'), { recursive: true });
  await writeFile(join(rig.root, 'sub', 'mine.txt'), 'mine');
  await writeFile(join(rig.root, 'sub', 'inner', 'deep.txt'), 'deep');
  await writeFile(join(rig.root, 'other.txt'), 'not yours');
  const confined = rig.client({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD, root: 'sub' });

  assert.deepEqual(
    (await list(confined, '')).map((e) => e.path),
    ['inner', 'mine.txt'],
  );
  assert.deepEqual(
    (await list(confined, '', true)).map((e) => e.path),
    ['inner', 'inner/deep.txt', 'mine.txt'],
  );
  await assert.rejects(list(confined, 'other.txt'), { code: 'PATH_NOT_FOUND' });

  const source = join(rig.dir, 'sent.txt');
  await writeFile(source, 'sent');
  await sendFiles({ ...confined, files: [source], remoteDir: 'in' });
  assert.equal(await readFile(join(rig.root, 'sub', 'in', 'sent.txt'), 'utf8'), 'sent');

  const dest = join(rig.dir, 'dest');
  await getFiles({ ...confined, remotePaths: [''], localDir: dest, recursive: true });
  assert.deepEqual(await listTree(dest), ['in/', 'in/sent.txt', 'inner/', 'inner/deep.txt', 'mine.txt']);
});

test('a confined client cannot reach outside its subdirectory: the library refuses `..` before sending, the server refuses it too', async (t) => {
  const rig = await startRig(t);
  await mkdir(join(rig.root, 'sub'));
  await writeFile(join(rig.root, 'other.txt'), 'not yours');
  const confined = rig.client({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD, root: 'sub' });
  const dest = join(rig.dir, 'dest');
  const before = await listTree(rig.dir);

  for (const path of ['../other.txt', 'a/../../other.txt', '/other.txt'])
    await assert.rejects(
      getFiles({ ...confined, remotePaths: [path], localDir: dest }),
      { code: 'PATH_INVALID' },
      path,
    );
  const source = join(rig.dir, 'escape.txt');
  await writeFile(source, 'escape');
  await assert.rejects(sendFiles({ ...confined, files: [source], remoteDir: '..' }), {
    code: 'PATH_INVALID',
  });

  const channel = await rawSession(t, rig, confined.identity);
  let ref = 0;
  for (const path of ['../other.txt', '..', 'a/../../other.txt', '/etc/passwd', 'a\\..\\..\\other.txt'])
    await expectError(channel, getRequest(++ref, path), 'PATH_INVALID');
  for (const path of ['..', '../sub', '/'])
    await expectError(
      channel,
      { type: 'LIST_REQUEST', ref: ++ref, recursive: true, selfOnly: false, path },
      'PATH_INVALID',
    );
  await expectError(
    channel,
    { type: 'PUT_LINK', ref: ++ref, overwrite: false, mtimeMs: 0, target: '../other.txt', path: 'l' },
    'PATH_ESCAPES_ROOT',
  );
  await expectError(
    channel,
    { type: 'PUT_DIR', ref: ref + 1, mode: 0o755, mtimeMs: 0, path: '../x' },
    'PATH_INVALID',
  );

  const after = (await listTree(rig.dir)).filter((p) => !p.startsWith('dest') && p !== 'escape.txt');
  assert.deepEqual(after, before, 'nothing was created in or around the root');
});

test('the server never lists `.ferry`, lists a symlink as a link, and never serves a file through one (PATH_ESCAPES_ROOT)', async (t) => {
  const rig = await startRig(t);
  const outside = join(rig.dir, 'outside.txt');
  await writeFile(outside, 'outside the root');
  await mkdir(join(rig.root, 'dir'));
  await writeFile(join(rig.root, 'dir', 'real.txt'), 'real');
  await symlink(outside, join(rig.root, 'abs-link'));
  await symlink('dir/real.txt', join(rig.root, 'rel-link'));
  await symlink(join(rig.dir), join(rig.root, 'dir-link'));
  const client = rig.client({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD });

  const entries = await list(client, '', true);
  assert.deepEqual(
    entries.map((e) => [e.path, e.kind, e.linkTarget]),
    [
      ['abs-link', 'link', outside],
      ['dir', 'dir', ''],
      ['dir/real.txt', 'file', ''],
      ['dir-link', 'link', rig.dir],
      ['rel-link', 'link', 'dir/real.txt'],
    ],
    'no `.ferry`, links as links, nothing behind dir-link',
  );

  const channel = await rawSession(t, rig, client.identity);
  let ref = 0;
  for (const path of ['abs-link', 'rel-link', 'dir-link/outside.txt'])
    await expectError(channel, getRequest(++ref, path), 'PATH_ESCAPES_ROOT');
  await expectError(
    channel,
    { type: 'LIST_REQUEST', ref: ++ref, recursive: false, selfOnly: false, path: 'dir-link/x' },
    'PATH_ESCAPES_ROOT',
  );
  for (const path of ['.ferry', '.ferry/partial', '.FERRY'])
    await expectError(
      channel,
      { type: 'LIST_REQUEST', ref: ++ref, recursive: true, selfOnly: false, path },
      'PATH_INVALID',
    );
  await expectError(
    channel,
    { type: 'PUT_DIR', ref: ref + 1, mode: 0o755, mtimeMs: 0, path: 'dir/real.txt' },
    'FILE_EXISTS',
  );

  // The library takes the same stand: a link named directly is refused, never followed.
  await assert.rejects(getFiles({ ...client, remotePaths: ['abs-link'], localDir: join(rig.dir, 'dest') }), {
    code: 'PATH_ESCAPES_ROOT',
  });
  assert.equal(await readFile(outside, 'utf8'), 'outside the root');
});

function putOffer(ref: number, path: string, size: number): Message {
  return {
    type: 'PUT_OFFER',
    ref,
    size,
    mtimeMs: 0,
    chunkBytes: 64 * 1024,
    mode: 0o644,
    overwrite: false,
    fresh: false,
    path,
  };
}

test('an upload-only client learns only that a path exists: plain FILE_EXISTS, no size match, no haveDigest, no IDENTICAL for a right guess (PROTOCOL.md §5.4)', async (t) => {
  const rig = await startRig(t);
  const secret = Buffer.from('the guessed content');
  await writeFile(join(rig.root, 'secret.txt'), secret);
  await symlink('secret.txt', join(rig.root, 'link'));
  const digestOfGuess = fileDigest(secret.length, 64 * 1024, [chunkHashOf(secret)]);

  const uploader = rig.client({ permissions: PERMISSION_UPLOAD });
  const channel = await rawSession(t, rig, uploader.identity);
  // The right size and the wrong size get the same answer.
  await expectError(channel, putOffer(1, 'secret.txt', secret.length), 'FILE_EXISTS');
  await expectError(channel, putOffer(2, 'secret.txt', secret.length + 1), 'FILE_EXISTS');
  // A pipelined offer with the right digest is not confirmed as IDENTICAL.
  await channel.send(putOffer(3, 'secret.txt', secret.length));
  await channel.send({ type: 'PUT_END', ref: 3, fileDigest: digestOfGuess });
  await channel.send({ type: 'PUT_DIR', ref: 4, mode: 0o755, mtimeMs: 0, path: 'probe' });
  const replies = [await channel.receive(), await channel.receive()];
  assert.deepEqual(
    replies.map((m) => [m.type, 'code' in m ? m.code : undefined]),
    [
      ['ERROR', ERROR_CODES.FILE_EXISTS.wire],
      ['ACK', undefined],
    ],
  );
  // A link with the guessed target is not acknowledged as "already there".
  await expectError(
    channel,
    { type: 'PUT_LINK', ref: 5, overwrite: false, mtimeMs: 0, target: 'secret.txt', path: 'link' },
    'FILE_EXISTS',
  );

  // A client that may download the path still gets EXISTING and IDENTICAL (it could read the file anyway).
  const both = rig.client({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD });
  const reader = await rawSession(t, rig, both.identity);
  await reader.send(putOffer(1, 'secret.txt', secret.length));
  const accept = await reader.receive();
  assert.ok(accept.type === 'PUT_ACCEPT' && accept.existing, `got ${accept.type}`);
  await reader.send({ type: 'PUT_END', ref: 1, fileDigest: digestOfGuess });
  const done = await reader.receive();
  assert.ok(done.type === 'PUT_DONE' && done.identical, `got ${done.type}`);
  await reader.send({
    type: 'PUT_LINK',
    ref: 2,
    overwrite: false,
    mtimeMs: 0,
    target: 'secret.txt',
    path: 'link',
  });
  assert.equal((await reader.receive()).type, 'ACK');
});

test('refs of refused uploads are forgotten at the next offer, so a client that never ends them leaves nothing behind', async (t) => {
  const rig = await startRig(t);
  await writeFile(join(rig.root, 'taken.txt'), 'taken');
  const uploader = rig.client({ permissions: PERMISSION_UPLOAD });
  const channel = await rawSession(t, rig, uploader.identity);
  // Refused (FILE_EXISTS) and never ended with PUT_END or CANCEL: its later data is discarded...
  await expectError(channel, putOffer(1, 'taken.txt', 5), 'FILE_EXISTS');
  await channel.send({ type: 'PUT_DATA', ref: 1, offset: 0, data: Buffer.from('taken') });
  await channel.send({ type: 'PUT_DIR', ref: 2, mode: 0o755, mtimeMs: 0, path: 'd' });
  assert.equal((await channel.receive()).type, 'ACK', 'the data of the refused ref was discarded');
  // ...until the client moves on to a new offer (§6.2: one upload at a time): then ref 1 is forgotten, and a
  // message for it is a protocol error instead of an entry kept in memory for the session's life.
  await expectError(channel, putOffer(3, 'taken.txt', 5), 'FILE_EXISTS');
  await channel.send({ type: 'PUT_DATA', ref: 1, offset: 0, data: Buffer.from('taken') });
  const reply = await channel.receive();
  assert.ok(
    reply.type === 'ERROR' && reply.code === ERROR_CODES.MESSAGE_UNEXPECTED.wire,
    `got ${reply.type}`,
  );
});

test('the server refuses a root that contains its home, or lies inside it, also through a link (ROOT_CONTAINS_HOME)', async (t) => {
  const dir = await makeTempDir('ferry-root-home-');
  t.after(() => removeTempDir(dir));
  const home = join(dir, 'user', '.ferry-home');
  await mkdir(home, { recursive: true });
  await symlink(join(dir, 'user'), join(dir, 'user-link'));
  const start = (root: string): Promise<FerryServer> =>
    FerryServer.start({
      root,
      port: 0,
      identity: generateKeyPair(),
      home,
      authorize: () => undefined,
      partialSweepIntervalMs: 0,
    });
  for (const root of [join(dir, 'user'), join(dir, 'user-link'), home, join(home, 'data'), dir])
    await assert.rejects(start(root), { code: 'ROOT_CONTAINS_HOME' }, root);
  const apart = await start(join(dir, 'srv'));
  await apart.close();
});

test('a client confined to `sub` never sees a `sub/.ferry` in its root listing, so `get -r` of its root still works', async (t) => {
  const rig = await startRig(t);
  await mkdir(join(rig.root, 'sub', '.ferry'), { recursive: true });
  await writeFile(join(rig.root, 'sub', '.ferry', 'x'), 'no remote path names this');
  await writeFile(join(rig.root, 'sub', 'mine.txt'), 'mine');
  const confined = rig.client({ permissions: PERMISSION_DOWNLOAD, root: 'sub' });

  assert.deepEqual(
    (await list(confined, '', true)).map((e) => e.path),
    ['mine.txt'],
  );
  const dest = join(rig.dir, 'dest');
  await getFiles({ ...confined, remotePaths: [''], localDir: dest, recursive: true });
  assert.deepEqual(await listTree(dest), ['mine.txt']);
});
