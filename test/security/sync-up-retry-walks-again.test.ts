// A `sync` up whose first attempt is cut before its jobs were planned (here: while its `--delete` removal is
// answered) plans again on the retry's session. It reused the first attempt's walk of SRC: a file an editor
// replaced by a rename between the attempts was not the inode walked, so it failed the run
// (SOURCE_CHANGED), though a new run would send it. Each plan now walks SRC afresh, as a new rsync run does,
// and each job still reads only the file its own plan's walk saw: a walked file swapped between the attempts
// for a link to a file outside SRC is seen as that link by the new walk and left out (it leads outside),
// never read through. Real sockets on loopback (a proxy cuts the first connection), a real server, real
// files; the swap runs in the retry's backoff, between the two attempts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rename, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { syncTree, type SyncEvent } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { snapshotTree } from '../helpers/tree-snapshot.js';

const SECRET = 'the sender alone may read this\n';

for (const cutAt of ['the plan', 'the handshake'] as const)
  test(`a sync up planned on a retry (the first session cut at ${cutAt}) walks SRC again: a file replaced in between is sent, a link swapped in is not followed`, async (t) => {
    const client = generateKeyPair();
    const { dir, server } = await startTempDirServer(t, 'ferry-sync-retry-walk-', {
      authorize: (key) =>
        key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
    });
    const root = join(dir, 'root');
    const tree = join(dir, 'tree');
    await mkdir(tree);
    await writeFile(join(tree, 'edited.txt'), 'first version\n');
    await writeFile(join(tree, 'swapped.txt'), 'walked\n');
    await writeFile(join(dir, 'secret'), SECRET);
    // A remote file SRC lacks: with --delete the plan asks its removal before it returns its jobs.
    await mkdir(join(root, 'dst'), { recursive: true });
    await writeFile(join(root, 'dst', 'stale.txt'), 'stale\n');

    const proxy = await FaultProxy.start({ target: server.address });
    t.after(() => proxy.close());
    const first = proxy.connection(0);
    let cut = false;
    // The handshake: the version offer goes, then the connection is reset (no plan was made on it).
    if (cutAt === 'the handshake') {
      proxy.setPlan((index) => (index === 0 ? { cut: { afterBytes: 10 } } : undefined));
      cut = true;
    }
    const onEvent = (event: SyncEvent): void => {
      // The first plan is made: cut its session before the removal is answered (the plan then fails).
      if (event.type === 'sync-action' && !cut) {
        cut = true;
        void first.then((c) => c.reset());
      }
    };
    const skipped: string[] = [];
    const summary = await syncTree({
      server: proxy.address,
      identity: client,
      verifyServer: () => undefined,
      direction: 'upload',
      localDir: tree,
      remotePath: 'dst',
      delete: true,
      onEvent,
      onSkip: (relative) => skipped.push(relative),
      retry: {
        retries: 2,
        // Between the attempts: an editor saves edited.txt by a rename, a local user swaps swapped.txt for a
        // link to a file only the sender may read.
        sleep: async () => {
          await writeFile(join(tree, '.edited.txt.swp'), 'second version\n');
          await rename(join(tree, '.edited.txt.swp'), join(tree, 'edited.txt'));
          await rename(join(tree, 'swapped.txt'), join(dir, 'moved'));
          await symlink(join(dir, 'secret'), join(tree, 'swapped.txt'));
        },
      },
    });
    assert.equal(cut, true);
    assert.equal(await proxy.connection(1).then(() => true), true);
    // Before: edited.txt failed the run with SOURCE_CHANGED (the first walk's inode).
    assert.equal(await readFile(join(root, 'dst', 'edited.txt'), 'utf8'), 'second version\n');
    // The link leads outside SRC: left out by the new walk, never read through.
    assert.ok(
      skipped.some((s) => s.endsWith('swapped.txt')),
      `skipped: ${skipped.join(', ')}`,
    );
    const held = await snapshotTree(root);
    for (const [path, entry] of held)
      if (entry.kind === 'file')
        assert.ok(!(await readFile(join(root, path), 'utf8')).includes(SECRET), `${path} holds the secret`);
    assert.equal(held.has('dst/stale.txt'), false);
    assert.equal(summary.dryRun, false);
  });
