// A raw admitted session against a real server on loopback: the test sends any message (even ones the library
// never sends) and reads the answers. Socket and channel are closed when the test ends.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { KeyPair } from '../../src/crypto/index.js';
import { FramedSocket, clientHandshake, type SecureChannel } from '../../src/channel/index.js';
import type { Message } from '../../src/protocol/index.js';

/** Connect as `identity`, complete the handshake and read the server's WELCOME (PROTOCOL.md §3, §5.2). */
export async function openAdmittedSession(
  t: TestContext,
  address: { host: string; port: number },
  identity: KeyPair,
): Promise<SecureChannel> {
  const socket = connect(address);
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  const channel = await clientHandshake(new FramedSocket(socket), {
    identity,
    verifyServer: () => undefined,
  });
  t.after(() => channel.close());
  assert.equal((await channel.receive()).type, 'WELCOME');
  return channel;
}

/** The next message on `channel`, which must be of `type` (else the assertion names what came). */
export async function receiveMessage<T extends Message['type']>(
  channel: SecureChannel,
  type: T,
): Promise<Extract<Message, { type: T }>> {
  const message = await channel.receive();
  assert.equal(message.type, type, `expected ${type}, got ${JSON.stringify(message)}`);
  return message as Extract<Message, { type: T }>;
}
