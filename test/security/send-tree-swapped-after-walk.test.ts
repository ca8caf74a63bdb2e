// A local user who may write inside a tree someone else sends (a shared or group-writable directory, /tmp)
// swaps a file the walk saw for a link to a file only the sender may read, or a directory on its way for a
// link to a directory of theirs, after the walk and before the file is read: the sender opened the walked
// name following links, so `ferry send -r` or `sync` uploaded the sender's secret under the walked name, where
// the swapper may read it (rsync's CVE-2024-12747, the same race on its sending side). The walk keeps each
// file's device and inode, and the read opens it without following a link at its name and refuses a file
// that is not the one walked. Real sockets on loopback, a real server, real files and links; the swap runs
// inside the walk itself, when it reports the fifo it reaches after every other entry of the tree's top
// directory, so nothing waits for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { renameSync, symlinkSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { sendTree, syncTree } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { snapshotTree } from '../helpers/tree-snapshot.js';

const SECRET = 'the sender alone may read this\n';
/** Chunks of 64 KiB: a file of 100 KiB goes the one-file way, one of a few bytes in a batch. */
const CHUNK = 64 * 1024;

/** A tree whose top directory ends with a fifo (reported, after every other entry, by the walk). */
async function treeToSwap(dir: string): Promise<{ tree: string; swap: () => void }> {
  const tree = join(dir, 'tree');
  const outside = join(dir, 'outside');
  await mkdir(join(tree, 'sub'), { recursive: true });
  await mkdir(join(outside, 'dir'), { recursive: true });
  await writeFile(join(tree, 'a.txt'), 'small\n');
  await writeFile(join(tree, 'big.bin'), Buffer.alloc(100 * 1024, 1));
  await writeFile(join(tree, 'sub', 'key'), 'walked\n');
  execFileSync('mkfifo', [join(tree, 'zzz')]);
  await writeFile(join(outside, 'secret-small'), SECRET);
  await writeFile(
    join(outside, 'secret-big'),
    Buffer.concat([Buffer.from(SECRET), Buffer.alloc(100 * 1024)]),
  );
  await writeFile(join(outside, 'dir', 'key'), SECRET);
  let swapped = false;
  const swap = (): void => {
    if (swapped) return;
    swapped = true;
    for (const [name, target] of [
      ['a.txt', join(outside, 'secret-small')],
      ['big.bin', join(outside, 'secret-big')],
      ['sub', join(outside, 'dir')],
    ] as const) {
      renameSync(join(tree, name), join(dir, `moved-${name}`));
      symlinkSync(target, join(tree, name));
    }
  };
  return { tree, swap };
}

/** Every file the server holds whose content holds the secret. */
async function secretsOnServer(root: string): Promise<string[]> {
  const snapshot = await snapshotTree(root);
  const found: string[] = [];
  for (const [path, entry] of snapshot)
    if (entry.kind === 'file' && (await readFile(join(root, path), 'utf8')).includes(SECRET))
      found.push(path);
  return found;
}

for (const way of ['send -r', 'sync'] as const)
  test(`${way}: files swapped for links after the walk are not read through them`, async (t) => {
    const client = generateKeyPair();
    const { dir, server } = await startTempDirServer(t, 'ferry-swapped-after-walk-', {
      authorize: (key) =>
        key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
    });
    const { tree, swap } = await treeToSwap(dir);
    const onSkip = (relative: string): void => {
      if (relative.endsWith('/zzz')) swap();
    };
    const connect = {
      server: server.address,
      identity: client,
      verifyServer: () => undefined,
      retry: { retries: 0 },
      chunkBytes: CHUNK,
    };
    const run =
      way === 'send -r'
        ? sendTree({ ...connect, dirs: [tree], onSkip })
        : syncTree({ ...connect, localDir: tree, remotePath: 'tree', direction: 'upload', onSkip });
    // The files refused fail the run (the others arrive); what matters is what the server holds.
    await run.catch(() => undefined);
    // Before: tree/a.txt, tree/big.bin and tree/sub/key on the server held the sender's secrets.
    assert.deepEqual(await secretsOnServer(join(dir, 'root')), []);
  });
