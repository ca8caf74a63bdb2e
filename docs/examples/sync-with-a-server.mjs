// ferry as a library: a server and a client in one script, then a sync up with its events, then a sync
// down. Run it from a checkout after `npm run build` (`node docs/examples/sync-with-a-server.mjs`), or
// with ferry installed, importing 'ferry' instead of the checkout's dist/ (the only line that changes).
// It works in a temporary directory and removes it; test/e2e/library-example.test.ts runs it.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  allowClient,
  allowListAuthorize,
  createIdentity,
  formatFerryId,
  serve,
  syncTree,
} from '../../dist/index.js'; // from 'ferry' once installed

const dir = await mkdtemp(join(tmpdir(), 'ferry-example-'));
try {
  // The server: its identity in its home, files under its root, the clients of that home's allow-list.
  const serverHome = join(dir, 'server-home');
  const serverIdentity = await createIdentity(serverHome);
  // The client: its own identity, admitted by the server's operator (`ferry allow ID`).
  const clientIdentity = await createIdentity(join(dir, 'client-home'));
  await allowClient(serverHome, formatFerryId(clientIdentity.publicKey));
  const server = await serve({
    root: join(dir, 'root'),
    host: '127.0.0.1',
    port: 0, // any free port; server.address says which
    identity: serverIdentity,
    home: serverHome,
    authorize: allowListAuthorize(serverHome),
  });
  try {
    // What every client call takes: where, who we are, and which server key we accept (the pin).
    const connect = {
      server: server.address,
      identity: clientIdentity,
      verifyServer: (publicKey) => {
        if (!publicKey.equals(serverIdentity.publicKey)) throw new Error('not the server we expect');
      },
    };
    const photos = join(dir, 'photos');
    await mkdir(join(photos, '2024'), { recursive: true });
    await writeFile(join(photos, '2024', 'beach.jpg'), 'not really a photo');
    await writeFile(join(photos, 'list.txt'), 'beach\n');
    // `ferry sync photos HOST/backup`: the events are the ones `--json` prints.
    const up = await syncTree({
      ...connect,
      direction: 'upload',
      localDir: photos,
      remotePath: 'backup',
      onEvent: (event) => {
        if (event.type === 'sync-action' && event.action !== 'dir')
          console.log(`plan: ${event.action} ${event.path}`);
        if (event.type === 'transfer-finished')
          console.log(`stored: ${event.remotePath} (${event.size} bytes)`);
      },
      // What the walk leaves out, with its kind: `link-outside-tree`, `special-file`, `ferry-temporary`, `unsendable-name` (a
      // name the wire cannot carry: the sync then rejects with UnsentNamesError, code PATH_INVALID, once the
      // rest went, as rsync exits 23).
      onSkip: (path, reason, kind) => console.log(`left out (${kind}): ${path}: ${reason}`),
    });
    console.log(`sync up: ${up.filesSent} sent, ${up.filesSkipped} unchanged`);
    // `ferry sync HOST/backup restored --delete`: the mirror the other way.
    const down = await syncTree({
      ...connect,
      direction: 'download',
      localDir: join(dir, 'restored'),
      remotePath: 'backup',
      delete: true,
    });
    console.log(`sync down: ${down.filesSent} received, ${down.deleted} deleted`);
  } finally {
    await server.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
