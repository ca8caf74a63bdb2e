// The dashboard against a browser turned against it (docs/SECURITY.md, the dashboard): DNS rebinding (a page
// of evil.example whose name now resolves to 127.0.0.1 reads the dashboard as same-origin, so the token in
// its URL is the only other guard: a loopback dashboard answers only to loopback host names), requests
// without a Host, and CSRF (nothing but GET and HEAD is served; no route changes anything). Each request here
// carries the right token, so what refuses it is the check under test. Real dashboard over raw HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { once } from 'node:events';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { Dashboard } from '../../src/web/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

/** One request with exactly these method and Host header; the status. */
async function statusOf(dashboard: Dashboard, method: string, host: string): Promise<number> {
  const { port } = dashboard.address;
  const req = request({
    host: '127.0.0.1',
    port,
    method,
    path: `/snapshot.json?token=${dashboard.token}`,
    headers: { host },
  });
  req.end();
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  res.resume();
  await once(res, 'end');
  return res.statusCode ?? 0;
}

test('a loopback dashboard answers only loopback host names (DNS rebinding), and only GET and HEAD (CSRF), even with the token', async (t) => {
  const { server } = await startTempDirServer(t, 'ferry-dashboard-host-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
  });
  const dashboard = await Dashboard.start({ server, port: 0 });
  t.after(() => dashboard.close());
  const { port } = dashboard.address;
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'app.localhost'])
    assert.equal(await statusOf(dashboard, 'GET', host), 200, host);
  for (const host of [
    `evil.example:${port}`,
    'evil.example',
    '127.0.0.1.nip.io',
    'localhost.evil.example',
    `localhost.:${port}`,
    '0.0.0.0',
    '[::1',
    '10.0.0.1',
  ])
    assert.equal(await statusOf(dashboard, 'GET', host), 403, `host ${JSON.stringify(host)}`);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])
    assert.equal(await statusOf(dashboard, method, `127.0.0.1:${port}`), 405, method);
  // An HTTP/1.0 request carries no Host at all: refused as one of no loopback name.
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.end(`GET /snapshot.json?token=${dashboard.token} HTTP/1.0\r\n\r\n`);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'close');
  assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.[01] 403/);
});
