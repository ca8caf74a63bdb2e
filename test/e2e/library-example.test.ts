// The library example README points to (docs/examples/sync-with-a-server.mjs) runs as a programmer would run
// it, against the built dist/: a server and a client in one script, a sync up reporting its plan and stored
// files, a sync down. An API change that breaks it fails here, not in a new user's hands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const EXAMPLE = fileURLToPath(new URL('../../docs/examples/sync-with-a-server.mjs', import.meta.url));

test('docs/examples/sync-with-a-server.mjs runs and prints what it synced', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [EXAMPLE], { timeout: 60_000 });
  assert.deepEqual(stdout.trimEnd().split('\n'), [
    'plan: send 2024/beach.jpg',
    'plan: send list.txt',
    'stored: backup/2024/beach.jpg (18 bytes)',
    'stored: backup/list.txt (6 bytes)',
    'sync up: 2 sent, 0 unchanged',
    'sync down: 2 received, 0 deleted',
  ]);
});
