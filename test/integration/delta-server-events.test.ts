// The server's events say when a transfer is a delta (PROTOCOL.md §5.17), so its log and dashboard do not
// call the old file's bytes a resume: a delta upload (its old file signed for the offer) and a delta
// download (its file signed in the same session before the request that claims the old file's leaves)
// carry `transfer.delta`; a plain first transfer does not. Real server and client over loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFiles, sendFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import type { ServerEvent } from '../../src/server/index.js';
import { startProxiedServer } from '../helpers/proxied-server.js';

/** Signed in leaves (16 MiB and more), one MiB of it rewritten: most of it held at the start. */
const BYTES = 17 * 1024 * 1024;

function started(events: readonly ServerEvent[]): Array<Extract<ServerEvent, { type: 'transfer-started' }>> {
  return events.flatMap((event) => (event.type === 'transfer-started' ? [event] : []));
}

test('a delta upload and a delta download are reported as deltas, a first transfer is not', async (t) => {
  const r = await startProxiedServer(t, 'ferry-delta-events-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    retries: 0,
  });
  const local = join(r.dir, 'local');
  await mkdir(local);
  const old = randomBytes(BYTES);
  const changed = Buffer.from(old);
  randomBytes(1024 * 1024).copy(changed, 8 * 1024 * 1024);

  // First upload: nothing held, no delta.
  await writeFile(join(local, 'up.img'), old);
  await sendFiles({ ...r.connect, files: [join(local, 'up.img')] });
  // The changed file over it: a delta upload.
  await writeFile(join(local, 'up.img'), changed);
  await sendFiles({ ...r.connect, files: [join(local, 'up.img')], overwrite: true });
  // A delta download: the server holds the changed file, the client the old one.
  await writeFile(join(r.root, 'down.img'), changed);
  await writeFile(join(local, 'down.img'), old);
  await getFiles({ ...r.connect, remotePaths: ['down.img'], localDir: local, overwrite: true });
  assert.ok((await readFile(join(local, 'down.img'))).equals(changed), 'the download, byte-exact');

  const starts = started(r.events).map((e) => [
    e.transfer.direction,
    e.transfer.path,
    e.transfer.delta === true,
  ]);
  assert.deepEqual(starts, [
    ['upload', 'up.img', false],
    ['upload', 'up.img', true],
    ['download', 'down.img', true],
  ]);
  // The delta download started from the old file's leaves, which the dashboard must not call a resume.
  const download = started(r.events).find((e) => e.transfer.direction === 'download')!;
  assert.ok(download.heldBytes > BYTES / 2, `${download.heldBytes} bytes held at the download's start`);
});
