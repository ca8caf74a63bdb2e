// A delta download in leaves opens the old file and a fresh partial at the signed GET_OFFER (s37/down
// bd03b8f), before the first signature record. A hostile server that then ends its answer without a record
// (an ERROR, a GET_END, a cut connection, a record describing another size) must leave the destination as it
// was: the old file untouched and no partial of the offered size beside it. Real sockets on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { LEAF_BYTES, type Message } from '../../src/protocol/index.js';
import { FakeFerryServer } from '../helpers/fake-ferry-server.js';
import { getFromFake, sendOneSignatureRecord, sendSignedOffer } from '../helpers/signed-offer.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** An offer in leaves: 64 MiB (signed in leaves from 16 MiB on, PROTOCOL.md §5.17.2). */
const OFFERED = 1024 * LEAF_BYTES;

type Ending = 'error' | 'end' | 'cut' | 'wrong record';

class OfferThenNothing extends FakeFerryServer {
  ending: Ending = 'error';

  static async start(): Promise<OfferThenNothing> {
    const server = new OfferThenNothing();
    await server.listen();
    return server;
  }

  protected override async answer(channel: SecureChannel, message: Message, socket: Socket): Promise<void> {
    if (await this.answerAsFile(channel, message)) return;
    if (message.type !== 'GET_REQUEST' || !message.signature) return;
    const { ref } = message;
    await sendSignedOffer(channel, ref, OFFERED);
    if (this.ending === 'error')
      await channel.send({ type: 'ERROR', ref, code: ERROR_CODES.SOURCE_CHANGED.wire, detail: 'gone' });
    else if (this.ending === 'end')
      await channel.send({ type: 'GET_END', ref, fileDigest: Buffer.alloc(32) });
    else if (this.ending === 'cut') socket.destroy();
    else await sendOneSignatureRecord(channel, ref, OFFERED * 2);
  }
}

test('a signed GET_OFFER in leaves ended without a record leaves the old file and no partial', async (t) => {
  const dir = await makeTempDir('ferry-signed-offer-then-nothing-');
  const server = await OfferThenNothing.start();
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  for (const ending of ['error', 'end', 'cut', 'wrong record'] as const) {
    const dest = join(dir, ending.replace(' ', '-'));
    await mkdir(dest);
    const old = Buffer.alloc(4096, 5);
    await writeFile(join(dest, 'big.bin'), old);
    server.ending = ending;
    await assert.rejects(getFromFake(server, { remotePaths: ['big.bin'], localDir: dest }), ending);
    assert.deepEqual(await readdir(dest), ['big.bin'], `${ending}: nothing left beside the file`);
    assert.ok((await readFile(join(dest, 'big.bin'))).equals(old), `${ending}: the old file untouched`);
  }
});
