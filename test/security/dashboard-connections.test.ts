// The dashboard runs in the ferry server's process, and its HTTP server held any number of connections:
// anyone who could reach its port (any local user; anyone with --dashboard-public) could hold idle ones
// until the process ran out of file descriptors. Now it holds DASHBOARD_MAX_CONNECTIONS at once and closes
// more at accept, and the ferry server keeps serving meanwhile. Real server, real dashboard, real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { sendFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { Dashboard } from '../../src/web/index.js';
import { DASHBOARD_MAX_CONNECTIONS } from '../../src/web/dashboard-server.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

test('the dashboard holds at most DASHBOARD_MAX_CONNECTIONS connections; one more is closed unanswered, and ferry serves on', async (t) => {
  const { dir, server } = await startTempDirServer(t, 'ferry-dashboard-connections-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
  });
  const dashboard = await Dashboard.start({ server, port: 0 });
  t.after(() => dashboard.close());
  const { host, port } = dashboard.address;
  const sockets: Socket[] = [];
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });
  /** A kept-alive connection that got its answer: the dashboard holds it. */
  const held = async (): Promise<void> => {
    const socket = connect({ host, port });
    socket.on('error', () => undefined);
    sockets.push(socket);
    await once(socket, 'connect');
    socket.write(`HEAD /snapshot.json?token=${dashboard.token} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const [data] = (await once(socket, 'data')) as [Buffer];
    assert.match(data.toString(), /^HTTP\/1\.1 200/);
  };
  for (let i = 0; i < DASHBOARD_MAX_CONNECTIONS; i++) await held();
  const extra = connect({ host, port });
  extra.on('error', () => undefined);
  sockets.push(extra);
  const received: Buffer[] = [];
  extra.on('data', (chunk: Buffer) => received.push(chunk));
  extra.write(`HEAD /snapshot.json?token=${dashboard.token} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  await once(extra, 'close');
  assert.equal(Buffer.concat(received).length, 0, 'the connection past the bound got no byte');
  // The ferry server itself is unaffected.
  const local = join(dir, 'a.txt');
  await writeFile(local, 'still served\n');
  const [result] = await sendFiles({
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    files: [local],
  });
  assert.equal(result?.size, 13);
});
