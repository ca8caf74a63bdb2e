// Signatures a hostile server makes a client hold (stop 30). A delta download (PROTOCOL.md §5.17) holds the
// signature of the server's file as its records arrive, 20 bytes a block of the size the server offers (up to
// 2^18 blocks: 5 MiB), and a `get -r` or `sync` pipelines up to 256 downloads. A server that answered every
// SIGNATURE request with a 16 GiB offer and all of its signature but the last record, then only keepalives,
// made the client hold 1.3 GiB (measured: +1312 MiB RSS for 256 such answers) for as long as the progress
// watchdog allows (hours: 16 s per offered GiB). A client now has at most MAX_DELTA_DOWNLOADS delta downloads
// in flight, from the request to the download's end; the next request goes only when one ends. Here the
// server stalls every answer after its first record, and the client's stall timeout ends the run: only the
// first 16 of 40 requests were ever sent. Real sockets on loopback, real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { MAX_DELTA_DOWNLOADS } from '../../src/client/delta-download-slots.js';
import { LEAF_BYTES, MAX_DELTA_BLOCKS, type Message } from '../../src/protocol/index.js';
import { FakeFerryServer } from '../helpers/fake-ferry-server.js';
import { getFromFake, sendOneSignatureRecord, sendSignedOffer } from '../helpers/signed-offer.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const FILES = 40;
/** The largest file a signature describes: 2^18 leaves, 16 GiB. */
const OFFERED = MAX_DELTA_BLOCKS * LEAF_BYTES;

/** Says every path is a file; answers a SIGNATURE request with a 16 GiB offer and one record, then stalls. */
class StallingSigner extends FakeFerryServer {
  static async start(): Promise<StallingSigner> {
    const server = new StallingSigner();
    await server.listen();
    return server;
  }

  get signatureRequests(): number {
    return this.received.filter((m) => m.type === 'GET_REQUEST' && m.signature).length;
  }

  protected override async answer(channel: SecureChannel, message: Message, _socket: Socket): Promise<void> {
    if (message.type === 'LIST_REQUEST') {
      const end = { totalEntries: 0, isFile: true, mode: 0o644, mtimeMs: 0 };
      await channel.send({ type: 'LIST_END', ref: message.ref, ...end });
      return;
    }
    if (message.type !== 'GET_REQUEST' || !message.signature) return;
    await sendSignedOffer(channel, message.ref, OFFERED);
    await sendOneSignatureRecord(channel, message.ref, OFFERED);
  }
}

test('a hostile server holding delta answers open gets at most MAX_DELTA_DOWNLOADS signature requests at once', async (t) => {
  const dir = await makeTempDir('ferry-delta-signatures-held-');
  const server = await StallingSigner.start();
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  const dest = join(dir, 'dest');
  await mkdir(dest);
  const names = Array.from({ length: FILES }, (_, i) => `f${i}`);
  // Old local files of 2 KiB: each makes its replacement a delta download.
  for (const [i, name] of names.entries()) await writeFile(join(dest, name), Buffer.alloc(2048, i));
  await assert.rejects(
    getFromFake(server, { remotePaths: names, localDir: dest, stallTimeoutMs: 1500 }),
    'the stalled session fails',
  );
  assert.equal(MAX_DELTA_DOWNLOADS, 16);
  assert.equal(server.signatureRequests, MAX_DELTA_DOWNLOADS, 'signature requests the server received');
});
