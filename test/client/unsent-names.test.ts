// A library user can tell that a file was not sent because the wire cannot carry its name (a control
// character in it, PROTOCOL.md §7.1): `sendPaths`, `sendTree` and `syncTree` send the rest, tell `onSkip`
// with the kind `unsendable-name`, then reject with UnsentNamesError (PATH_INVALID), as rsync exits 23.
// A real server on loopback, real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import {
  sendPaths,
  sendTree,
  syncTree,
  UnsentNamesError,
  type ConnectOptions,
  type SkipKind,
} from '../../src/index.js';
import type { FerryServer } from '../../src/server/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const BAD_NAME = 'bad\x1b[31m.txt';

async function startRig(
  t: TestContext,
): Promise<{ tree: string; server: FerryServer; connect: ConnectOptions }> {
  const { dir, server } = await startTempDirServer(t, 'ferry-unsent-names-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
  });
  const tree = join(dir, 'local', 'tree');
  await mkdir(tree, { recursive: true });
  await writeFile(join(tree, 'ok.txt'), 'ok');
  await writeFile(join(tree, BAD_NAME), 'bad');
  await symlink('/', join(tree, 'out'));
  const connect: ConnectOptions = {
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
  };
  return { tree, server, connect };
}

/** The skips told, as `path kind`. */
function skips(): { told: string[]; onSkip: (path: string, reason: string, kind: SkipKind) => void } {
  const told: string[] = [];
  return { told, onSkip: (path, _reason, kind) => told.push(`${path} ${kind}`) };
}

/** Asserts `err` is the UnsentNamesError of the one bad name in a tree of two files. */
function assertUnsent(err: unknown): true {
  assert.ok(err instanceof UnsentNamesError, String(err));
  assert.equal(err.code, 'PATH_INVALID');
  assert.deepEqual(
    err.unsent.map((u) => u.path),
    [`tree/${BAD_NAME}`],
  );
  assert.equal(err.unsent[0]!.reason, 'name cannot be sent: contains byte 0x1b');
  assert.match(err.message, /; 1 of 2 files not sent$/);
  return true;
}

test('`sendPaths` sends the rest, tells the kind of every skip, then rejects with UnsentNamesError', async (t) => {
  const { tree, server, connect } = await startRig(t);
  const { told, onSkip } = skips();
  let results: unknown;
  await assert.rejects(
    sendPaths({ ...connect, paths: [tree], remotePath: 'up', recursive: true, onSkip }),
    (err) => {
      results = (err as UnsentNamesError<unknown>).result;
      return assertUnsent(err);
    },
  );
  assert.deepEqual(told.sort(), [`tree/${BAD_NAME} unsendable-name`, 'tree/out link-outside-tree']);
  assert.ok(Array.isArray(results) && results.some((r: { kind: string }) => r.kind === 'file'));
  assert.deepEqual(await readdir(join(server.root, 'up')), ['ok.txt']);
});

test('`sendTree` rejects alike once the rest went', async (t) => {
  const { tree, server, connect } = await startRig(t);
  await assert.rejects(sendTree({ ...connect, dirs: [tree] }), assertUnsent);
  assert.deepEqual(await readdir(join(server.root, 'tree')), ['ok.txt']);
});

test('`syncTree` up rejects with UnsentNamesError carrying the summary, in a dry run too', async (t) => {
  const { tree, server, connect } = await startRig(t);
  const options = { ...connect, direction: 'upload' as const, localDir: tree, remotePath: 'mirror' };
  let dry: unknown;
  await assert.rejects(syncTree({ ...options, dryRun: true }), (err) => {
    dry = (err as UnsentNamesError<unknown>).result;
    return assertUnsent(err);
  });
  assert.equal((dry as { dryRun: boolean; filesSent: number }).filesSent, 1);
  await assert.rejects(
    readdir(join(server.root, 'mirror')),
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
  );
  let summary: unknown;
  await assert.rejects(syncTree(options), (err) => {
    summary = (err as UnsentNamesError<unknown>).result;
    return assertUnsent(err);
  });
  assert.deepEqual(
    { dryRun: (summary as { dryRun: boolean }).dryRun, filesNew: (summary as { filesNew: number }).filesNew },
    { dryRun: false, filesNew: 1 },
  );
  assert.deepEqual(await readdir(join(server.root, 'mirror')), ['ok.txt']);
});

test('a tree without such a name resolves as before', async (t) => {
  const { tree, server, connect } = await startRig(t);
  await rm(join(tree, BAD_NAME));
  const results = await sendPaths({ ...connect, paths: [tree], remotePath: 'up', recursive: true });
  assert.ok(results.length > 0);
  assert.deepEqual(await readdir(join(server.root, 'up')), ['ok.txt']);
});
