// An object store's bucket may hold keys no remote path can name (PROTOCOL.md §7.1): a `\`, a C1 control
// character (Swift's XML listing cannot carry C0 ones), a `.` or `..` component, a component over 255 bytes. Whoever else writes the bucket (another
// tool, another tenant of a shared bucket, the operator's own scripts) puts them there; a ferry client cannot.
// A server on a disk leaves such names out of its listings; one on an object store listed them, and every
// client refuses a listing that holds one (MESSAGE_MALFORMED or PATH_INVALID), so one such key made every
// `get -r`, `sync` and `ls -r` of the directories above it fail. One rule for both roots now: the object
// listing leaves them out too, and the rest of the tree goes. Against a real Swift.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { getFiles, listFiles, sendFiles, sendTree, type ConnectOptions } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, parseRemotePath } from '../../src/protocol/index.js';
import type { FerryServer, ServeOptions } from '../../src/server/index.js';
import { serveObjectStore } from '../helpers/object-store-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { useSwiftNode } from '../helpers/swift-node.js';

const swift = useSwiftNode();

/** Keys under `t/` that no remote path can name, each in a directory of its own. */
const UNSENDABLE = [
  't/c1/a\u009bb',
  't/back/a\\b',
  't/dots/x/../y',
  't/dot/./z',
  `t/long/${'n'.repeat(300)}`,
  't/a\u009bdir/inside',
];

/**
 * A server on a fresh prefix of the Swift bucket holding `keys` (each object's body its key), a local
 * temporary directory removed after the test, and the connect options of its client (`serveObjectStore`'s,
 * or `options.authorize`'s first key).
 */
async function storeWith(
  t: TestContext,
  name: string,
  keys: readonly string[],
  options: Partial<ServeOptions> = {},
  identity?: KeyPair,
): Promise<{ server: FerryServer; dir: string; connect: ConnectOptions }> {
  const s = swift();
  const prefix = `${name}-${Date.now()}/`;
  for (const key of keys)
    await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: `${prefix}${key}`, Body: `${key}\n` }));
  const { server, key } = await serveObjectStore(t, s, prefix, options);
  const dir = await makeTempDir(`ferry-${name}-`);
  t.after(() => removeTempDir(dir));
  const connect = {
    server: server.address,
    identity: identity ?? key,
    verifyServer: () => undefined,
    retry: { retries: 0 },
  };
  return { server, dir, connect };
}

/** The files under `top`, relative to it, sorted. */
async function filesUnder(top: string): Promise<string[]> {
  const found = await readdir(top, { recursive: true, withFileTypes: true });
  return found
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(top.length + 1))
    .sort();
}

test('an object store lists no key a remote path cannot name: a tree beside such keys downloads', async (t) => {
  const { dir, connect } = await storeWith(t, 'unsendable', ['t/good.txt', 't/c1/ok.txt', ...UNSENDABLE]);
  for (const recursive of [true, false]) {
    const listing = await listFiles({ ...connect, remotePath: 't', recursive });
    const paths = listing.entries.map((e) => e.path);
    // Each listed name is one a client can ask for.
    for (const path of paths) assert.doesNotThrow(() => parseRemotePath(`t/${path}`), `listed ${path}`);
    assert.ok(paths.includes('good.txt'), paths.join(', '));
  }
  // Before: the whole download failed at the listing (MESSAGE_MALFORMED), nothing arrived.
  const local = join(dir, 'local');
  await getFiles({ ...connect, remotePaths: ['t'], localDir: local, recursive: true });
  assert.equal(await readFile(join(local, 't', 'good.txt'), 'utf8'), 't/good.txt\n');
  assert.equal(await readFile(join(local, 't', 'c1', 'ok.txt'), 'utf8'), 't/c1/ok.txt\n');
  assert.deepEqual(await filesUnder(local), ['t/c1/ok.txt', 't/good.txt']);
});

// Its sibling: `.ferry` first in a remote path is reserved in any case (§7.1), so a server hides it at the top
// of the client's own root, whatever its confinement. An object store hid only `.ferry` spelt so, and only at
// the bucket's top: a client confined to `sub` was listed `sub/.ferry/x` (which an unconfined client may
// upload), and anyone `.FERRY/x`, and each failed that client's `get -r` of its root.
test('an object store hides .ferry in any case at the top of a confined client root', async (t) => {
  const confined = generateKeyPair();
  const whole = generateKeyPair();
  const { dir, connect } = await storeWith(
    t,
    'reserved',
    ['sub/mine.txt', 'sub/.ferry/x', 'sub/.FERRY/y', '.FERRY/z', 'top.txt'],
    {
      authorize: (key: Buffer) =>
        key.equals(confined.publicKey)
          ? { permissions: PERMISSION_DOWNLOAD, root: 'sub' }
          : key.equals(whole.publicKey)
            ? { permissions: PERMISSION_DOWNLOAD }
            : undefined,
    },
    confined,
  );
  for (const [identity, name, want] of [
    [confined, 'confined', ['mine.txt']],
    [whole, 'whole', ['sub/.ferry/x', 'sub/.FERRY/y', 'sub/mine.txt', 'top.txt']],
  ] as const) {
    const local = join(dir, name);
    // Before: PATH_INVALID at the listing, nothing fetched.
    await getFiles({ ...connect, identity, remotePaths: [''], localDir: local, recursive: true });
    assert.deepEqual(await filesUnder(local), [...want].sort());
  }
});

// An object store keeps no tree shape of its own: a client allowed to upload placed `t/a/x` below the file
// `t/a` (one upload, or entries of a batch), and, without OVERWRITE, a file `u/b` over the directory `u/b/`
// with its keys; the listing then named a file with entries below it, and every `get -r` failed them. Each is
// refused now where a disk refuses it (PATH_INVALID), before anything is placed.
test('an object store refuses a file below a file and a file over a directory, as a disk does', async (t) => {
  const { dir, connect } = await storeWith(t, 'shape', ['t/a', 't/c', 'u/b/kept']);
  const local = join(dir, 'local');
  await mkdir(join(local, 'a'), { recursive: true });
  await writeFile(join(local, 'a', 'x'), 'below a file\n');
  await writeFile(join(local, 'a', 'y'), 'below a file too\n');
  await mkdir(join(local, 'c'));
  await writeFile(join(local, 'c', 'big'), Buffer.alloc(200 * 1024, 7));
  await writeFile(join(local, 'b'), 'over a directory\n');
  await writeFile(join(local, 'file'), 'a file\n');
  // t/a and t/c are files, u/b/ a directory (storeWith); t/file is placed by the client.
  await sendFiles({ ...connect, files: [join(local, 'file')], remoteDir: 't' });
  const code = (run: Promise<unknown>): Promise<string> =>
    run.then(
      () => 'placed',
      (err: { code?: string; message?: string }) => `${err.code}: ${err.message}`,
    );
  // A batch of two below a file, one upload (200 KiB in 64 KiB chunks goes alone) below a file, a file over
  // the directory (plain and --overwrite): the server's PATH_INVALID as a disk's reads, through the client's
  // naming of it (remote-name.ts), "not a directory" and "is a directory". Before: each was placed.
  const belowFile = /^IO_ERROR: .*\/t\/a: not a directory/;
  assert.match(await code(sendTree({ ...connect, dirs: [join(local, 'a')], remoteDir: 't' })), belowFile);
  assert.match(
    await code(sendTree({ ...connect, dirs: [join(local, 'c')], remoteDir: 't', chunkBytes: 64 * 1024 })),
    /^IO_ERROR: .*\/t\/c: not a directory/,
  );
  for (const overwrite of [false, true])
    assert.match(
      await code(sendFiles({ ...connect, files: [join(local, 'b')], remoteDir: 'u', overwrite })),
      /^IO_ERROR: .*\/u\/b: is a directory/,
    );
  const listed = await listFiles({ ...connect, remotePath: '', recursive: true });
  assert.deepEqual(
    listed.entries
      .filter((e) => e.kind === 'file')
      .map((e) => e.path)
      .sort(),
    ['t/a', 't/c', 't/file', 'u/b/kept'],
  );
});

// PUT_DIR on an object store makes nothing (a directory is a prefix) and was acknowledged without a look, where
// a disk refuses a directory at the name of a file (FILE_EXISTS) or below one (PATH_INVALID). Refused the same
// way now, by the same check as a file's (assertPlaceable).
test('an object store refuses a directory over a file, as a disk does', async (t) => {
  const { dir, connect } = await storeWith(t, 'putdir', ['t/a', 't/ok/kept']);
  const local = join(dir, 'local');
  await mkdir(join(local, 'a', 'e'), { recursive: true });
  await mkdir(join(local, 'ok', 'new'), { recursive: true });
  const outcome = (run: Promise<unknown>): Promise<string> =>
    run.then(
      () => 'made',
      (err: { code?: string; message?: string }) => `${err.code}: ${err.message}`,
    );
  // Before: made (acknowledged), the listing still naming t/a a file.
  // Both entries (t/a at a file, t/a/e below it) refused, as a disk refuses them.
  assert.match(
    await outcome(sendTree({ ...connect, dirs: [join(local, 'a')], remoteDir: 't' })),
    /^IO_ERROR: .*\/t\/a: not a directory .*2 of 2 entries failed$/,
  );
  assert.equal(await outcome(sendTree({ ...connect, dirs: [join(local, 'ok')], remoteDir: 't' })), 'made');
});
