// A delta download in leaves (PROTOCOL.md §5.17.2, a file of 16 MiB or more) opens its old file and its
// partial once the offer is in, while the server reads and hashes its first leaves, not once the first
// signature record arrives (issue 16: ~30 ms between the first record and the scan's first window, most of
// it the partial's files made durable). Here the server offers 32 MiB with SIGNATURE and sends no record
// until the partial is on disk; then it refuses the request. The partial was made (the server saw it) and,
// the answer failed before any scan, is removed; the old file is as it was. Real sockets on loopback, real
// files (an old file of 2 KiB: only the offer's size decides).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { LEAF_BYTES, type Message } from '../../src/protocol/index.js';
import { FakeFerryServer } from '../helpers/fake-ferry-server.js';
import { getFromFake, sendSignedOffer } from '../helpers/signed-offer.js';
import { refuseRef } from '../security/hostile-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** 32 MiB: signed in leaves (§5.17.2). */
const OFFERED = 512 * LEAF_BYTES;

/** Resolves once `dir` holds a name ending in `suffix` (checked at each change of the directory). */
function appears(dir: string, suffix: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir);
    const check = (): void =>
      void readdir(dir).then((names) => {
        if (!names.some((name) => name.endsWith(suffix))) return;
        watcher.close();
        resolve();
      }, reject);
    watcher.on('change', check);
    check();
  });
}

/** Offers a 32 MiB file with SIGNATURE, waits for the client's partial to appear, then refuses the request. */
class OfferThenRefuse extends FakeFerryServer {
  sawPartial = false;

  constructor(private readonly dest: string) {
    super();
  }

  static async start(dest: string): Promise<OfferThenRefuse> {
    const server = new OfferThenRefuse(dest);
    await server.listen();
    return server;
  }

  protected override async answer(channel: SecureChannel, message: Message): Promise<void> {
    if (await this.answerAsFile(channel, message)) return;
    if (message.type !== 'GET_REQUEST' || !message.signature) return;
    await sendSignedOffer(channel, message.ref, OFFERED);
    await appears(this.dest, '.ferry-part');
    this.sawPartial = true;
    await refuseRef(channel, message.ref, 'no more today');
  }
}

test('a delta download in leaves opens its partial at the offer; an answer failing before the scan removes it', async (t) => {
  const dir = await makeTempDir('ferry-delta-opened-at-offer-');
  const server = await OfferThenRefuse.start(dir);
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  await writeFile(join(dir, 'f'), Buffer.alloc(2048, 7));
  await assert.rejects(getFromFake(server, { remotePaths: ['f'], localDir: dir }), /no more today/);
  assert.ok(server.sawPartial, 'the partial was made before any record');
  assert.deepEqual(await readdir(dir), ['f'], 'nothing but the old file is left');
  assert.deepEqual(await readFile(join(dir, 'f')), Buffer.alloc(2048, 7));
});
