// A download cut short leaves its partial beside the destination, and the next `get` of that name resumes it
// by naming the chunks it holds (GET_REQUEST heldSize, ranges and haveDigest: a digest over their hashes,
// PROTOCOL.md §5.11.2). The partial did not say which server it came from, so a `get` of the same local name
// from another server told that server what the first had sent: the file's size, which chunks were held and
// a digest of their hashes, with which it could confirm a guess of their content offline (the oracle
// protocol version 2 removed from VERIFY_ONLY). A partial now resumes only with the server it came from.
// Real sessions on loopback: a real server cut mid-download, then a hostile server that records the request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { getFiles } from '../../src/client/index.js';
import type { Message } from '../../src/protocol/index.js';
import { cutDownloadRig } from '../helpers/cut-download-rig.js';
import { FakeFerryServer } from '../helpers/fake-ferry-server.js';

const CHUNK = 64 * 1024;

/** Says every path is a file, and refuses every GET_REQUEST after recording it (FakeFerryServer.received). */
class RecordingServer extends FakeFerryServer {
  static async start(): Promise<RecordingServer> {
    const server = new RecordingServer();
    await server.listen();
    return server;
  }

  protected override async answer(channel: SecureChannel, message: Message): Promise<void> {
    if (await this.answerAsFile(channel, message)) return;
    if (message.type !== 'GET_REQUEST') return;
    const code = ERROR_CODES.PATH_NOT_FOUND.wire;
    await channel.send({ type: 'ERROR', ref: message.ref, code, detail: 'recorded' });
  }
}

test('a partial left by one server is never claimed to another: the second server is asked for the whole file', async (t) => {
  const rig = await cutDownloadRig(t, 16 * CHUNK, CHUNK);
  await assert.rejects(rig.get(0));
  // The first server's partial is there, holding verified chunks: its own server would be asked to resume.
  const other = await RecordingServer.start();
  t.after(() => other.close());
  await assert.rejects(
    getFiles({
      server: other.address,
      identity: generateKeyPair(),
      verifyServer: () => undefined,
      retry: { retries: 0 },
      remotePaths: ['payload.bin'],
      localDir: rig.dest,
      chunkBytes: CHUNK,
    }),
  );
  const asked = other.received.find((m) => m.type === 'GET_REQUEST');
  assert.ok(asked?.type === 'GET_REQUEST', 'no GET_REQUEST');
  // Before: heldSize 1 MiB, the held ranges and their digest.
  assert.equal(asked.heldSize, 0);
  assert.deepEqual(asked.ranges, []);
  assert.ok(asked.haveDigest.equals(Buffer.alloc(32)));

  // The partial still resumes with the server it came from, which sends only what it lacks.
  const resumed = await rig.get(0);
  assert.ok(resumed.resumedBytes > 0, `resumed ${resumed.resumedBytes}`);
});
