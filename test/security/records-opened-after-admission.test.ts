// Records are opened on the server's worker threads (issue 14's pool) only once the session is admitted
// (PROTOCOL.md §3.2.2: refuse before reading a single record). The pool was switched on right after the
// handshake, before the allow-list was asked, so whatever a peer with any key pipelined behind its handshake
// was copied into receive blocks and decrypted on the workers while the allow-list (a file's stat, an etcd
// read) or a pairing exchange was awaited: up to the pool's window, (threads x 2 + 1) blocks of about 2 MiB,
// in each of the 128 unauthenticated slots, where the event loop's own opening stops at 1 MiB, and the
// workers' time went to peers nobody admitted. Real sockets on loopback, a real server with 2 threads; the
// hostile clients seal valid records with their session keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:net';
import { FramedSocket, clientHandshake, type SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { sendPaths } from '../../src/client/index.js';
import type { ClientGrant } from '../../src/server/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

/** Full records (above the pool's 1 KiB floor), 8 of them: 480 KiB, within what any socket buffers. */
const RECORD = Buffer.alloc(60 * 1024, 0x5a);
const RECORDS = 8;

/** A client with a fresh key, its handshake done; its socket is destroyed when the test ends. */
async function handshake(
  address: { host: string; port: number },
  after: (fn: () => void) => void,
): Promise<{ channel: SecureChannel; closed: Promise<unknown> }> {
  const socket = connect({ ...address, noDelay: true });
  socket.on('error', () => undefined);
  after(() => socket.destroy());
  const closed = once(socket, 'close');
  await once(socket, 'connect');
  const channel = await clientHandshake(new FramedSocket(socket), {
    identity: generateKeyPair(),
    verifyServer: () => undefined,
  });
  return { channel, closed };
}

test('a peer the allow-list has not admitted yet gets none of its records opened on the worker threads', async (t) => {
  const allowed = generateKeyPair();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const { dir, server } = await startTempDirServer(t, 'ferry-records-after-admission-', {
    threads: 2,
    // The allow-list's answer is held (a slow stat, etcd while its watch reconnects) until the test lets go.
    authorize: async (key): Promise<ClientGrant | undefined> => {
      if (key.equals(allowed.publicKey)) return { permissions: PERMISSION_UPLOAD };
      await released;
      return undefined;
    },
  });
  const refused = once(server.events, 'session-refused');
  const hostile = await handshake(server.address, (fn) => t.after(fn));
  for (let i = 0; i < RECORDS; i++) await hostile.channel.sendPlaintext(RECORD);
  // A second handshake needs several turns of the server's event loop after the records were in its socket's
  // buffer, so the server has read them (as it does whatever arrives) before the allow-list answers.
  await handshake(server.address, (fn) => t.after(fn));
  release();
  await refused;
  await hostile.closed;
  // Before: the records went to the workers while the allow-list was asked (1 to 2 blocks here).
  assert.equal(server.openedBlocks, 0, 'no block of an unadmitted peer was opened on the pool');

  // An admitted client's upload still has its records opened on the pool.
  const file = join(dir, 'one.bin');
  await writeFile(file, Buffer.alloc(4 * 2 ** 20, 7));
  await sendPaths({
    server: server.address,
    identity: allowed,
    verifyServer: () => undefined,
    paths: [file],
    remotePath: 'one.bin',
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
  });
  assert.ok(
    server.openedBlocks > 0,
    `an admitted upload's records opened on the pool: ${server.openedBlocks}`,
  );
});
