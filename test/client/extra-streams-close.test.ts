// ExtraStreams.close() while an extra stream is still in its handshake (the primary failed meanwhile): the
// extra ends at once, not at its handshake timeout, and no later Ctrl-C is needed to reach it. Real TCP on
// loopback against a listener that accepts and never answers (a black-holed server). Its deadline only
// bounds a failure: without the abort at close, the handshakes would wait an hour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ExtraStreams } from '../../src/client/extra-sessions.js';
import { generateKeyPair } from '../../src/crypto/index.js';

test(
  'closing extra streams still in their handshake ends them at once (ABORTED), the caller`s signal untouched',
  { timeout: 30_000 },
  async (t) => {
    const held: Socket[] = [];
    const closed: Array<Promise<unknown>> = [];
    let arrived!: () => void;
    const allArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = createServer((socket) => {
      held.push(socket);
      // Read (and drop) what comes, so the client's close is seen.
      socket.resume();
      closed.push(once(socket, 'close'));
      if (held.length === 2) arrived();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => {
      for (const socket of held) socket.destroy();
      server.close();
    });
    const caller = new AbortController();
    const extras = new ExtraStreams(
      {
        server: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
        identity: generateKeyPair(),
        verifyServer: () => undefined,
        // Far beyond the test's life: only close() can end these handshakes.
        handshakeTimeoutMs: 3_600_000,
        connectTimeoutMs: 3_600_000,
        signal: caller.signal,
      },
      2,
    );
    const opening = extras.open();
    await allArrived;
    extras.close();
    await assert.rejects(opening, { code: 'ABORTED' });
    await Promise.all(closed);
    assert.equal(caller.signal.aborted, false);
  },
);
