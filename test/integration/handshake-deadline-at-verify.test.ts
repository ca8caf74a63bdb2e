// The client's handshake deadline bounds the network, not the person at the trust prompt: verifyServer may
// take longer than the deadline (a user reading an ID), and the handshake still completes. Time is mocked:
// the deadline's timer is ticked past while verifyServer waits, on real loopback sockets.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { FramedSocket, MODE_NORMAL, clientHandshake, serverHandshake } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { socketPair } from '../helpers/loopback-socket-pair.js';

const CLIENT_DEADLINE_MS = 50;

test('clientHandshake completes when verifyServer outlasts its deadline (the deadline stops at verifyServer)', async (t) => {
  const pair = await socketPair();
  t.after(() => pair.close());
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  let answer!: () => void;
  let asked!: () => void;
  const waiting = new Promise<void>((resolve) => (asked = resolve));
  const client = clientHandshake(new FramedSocket(pair.dialled), {
    identity: generateKeyPair(),
    timeoutMs: CLIENT_DEADLINE_MS,
    verifyServer: () =>
      new Promise<void>((resolve) => {
        answer = resolve;
        asked();
      }),
  });
  // The server's own deadline is far off: it is the client's that is under test.
  const server = serverHandshake(new FramedSocket(pair.accepted), {
    identity: generateKeyPair(),
    timeoutMs: 60_000,
  });
  await waiting;
  mock.timers.tick(CLIENT_DEADLINE_MS * 10);
  answer();
  await client;
  const { mode } = await server;
  assert.equal(mode, MODE_NORMAL, 'the server saw message 3 of a normal session');
});
