// Connections in the handshake each listen on the server's abort signal (so `close()` ends them) until their
// handshake ends. Node warns "Possible EventTarget memory leak detected" on the eleventh listener of a signal,
// so eleven strangers connecting at once printed that warning on `ferry serve`'s stderr: a false alarm of a
// leak (the listeners are bounded by --max-connections and removed at each handshake's end) that a reviewer
// and an operator would chase. Real server on loopback, real sockets left silent in the handshake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { connectRefusedClient } from '../helpers/refused-client.js';

test('forty connections silent in the handshake make Node print no listener-leak warning', async (t) => {
  const { server } = await startTempDirServer(t, 'ferry-flood-warnings-', { authorize: () => undefined });
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning.name);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const silent: Socket[] = [];
  t.after(() => silent.forEach((socket) => socket.destroy()));
  for (let i = 0; i < 40; i++) {
    const socket = connect(server.address);
    socket.on('error', () => undefined);
    silent.push(socket);
  }
  await Promise.all(silent.map((socket) => once(socket, 'connect')));
  // Accepted in order: once a later client's refusal is seen, the server has started all forty handshakes.
  const refused = await connectRefusedClient(server);
  await refused.refused;
  refused.socket.destroy();
  const inHandshake = server.sessionStates().filter((s) => s.connection === 'open').length;
  assert.ok(inHandshake >= 40, `${inHandshake} connections open on the server`);
  // Node emits warnings on the next tick: let it run before looking.
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.deepEqual(
    warnings.filter((name) => name === 'MaxListenersExceededWarning'),
    [],
  );
});
