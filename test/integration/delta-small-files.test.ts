// Delta uploads of files under one leaf (PROTOCOL.md §5.15.2: blocks of about sqrt(size), at least 1 KiB),
// over real TCP on loopback through a byte-counting proxy, real files: a 20 KiB file with 100 bytes rewritten
// in place, and one with 10 bytes inserted, each sent as a delta and, on a second server, whole. The delta
// must cost the whole send less about the file's size: what changed, a block around it, and the signature.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sendFiles, type TransferEvent } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD, deltaBlockBytesFor } from '../../src/protocol/index.js';
import { startProxiedServer } from '../helpers/proxied-server.js';

const NAME = 'notes.txt';
const SIZE = 20 * 1024;

interface Sent {
  up: number;
  down: number;
  literal: number | undefined;
}

/** A server holding `old`, replaced by `next` through a proxy that counts bytes each way. */
async function replace(t: TestContext, old: Buffer, next: Buffer, delta: boolean): Promise<Sent> {
  const r = await startProxiedServer(t, 'ferry-delta-small-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    retries: 0,
  });
  await writeFile(join(r.root, NAME), old);
  await mkdir(join(r.dir, 'src'));
  const source = join(r.dir, 'src', NAME);
  await writeFile(source, next);
  let literal: number | undefined;
  const { up, down } = await r.measure(() =>
    sendFiles({
      ...r.connect,
      files: [source],
      overwrite: true,
      delta,
      onEvent: (event: TransferEvent) => {
        if (event.type === 'transfer-delta') literal = event.literalBytes;
      },
    }),
  );
  assert.ok((await readFile(join(r.root, NAME))).equals(next), 'the new file, byte-exact');
  return { up, down, literal };
}

const old = randomBytes(SIZE);
const block = deltaBlockBytesFor(SIZE);
const rewritten = Buffer.from(old);
randomBytes(100).copy(rewritten, 7000);
const inserted = Buffer.concat([old.subarray(0, 9000), randomBytes(10), old.subarray(9000)]);

for (const c of [
  { name: '100 bytes rewritten in place', next: rewritten, literal: 2 * block },
  { name: '10 bytes inserted', next: inserted, literal: block + 10 },
]) {
  test(`20 KiB file, ${c.name}: a delta of small blocks, far less than the file on the wire`, async (t) => {
    const delta = await replace(t, old, c.next, true);
    const whole = await replace(t, old, c.next, false);
    t.diagnostic(
      `${c.name}: delta ${delta.up} up / ${delta.down} down (literal ${delta.literal}), whole ${whole.up} up / ${whole.down} down, block ${block}`,
    );
    assert.equal(block, 1024, 'a 20 KiB file is signed in 1 KiB blocks');
    assert.ok(delta.literal !== undefined && delta.literal <= c.literal, `literal bytes ${delta.literal}`);
    // The same session, offer and end both ways: the difference is the file less what the delta sent,
    // less the PUT_COPY records (a few), so the delta saves at least the file less two blocks and records.
    assert.ok(whole.up - delta.up >= SIZE - c.literal - 1024, `saved ${whole.up - delta.up} bytes`);
    // The signature came back: 20 bytes a block, 20 blocks, beside what a whole send receives.
    assert.ok(delta.down - whole.down <= 20 * 20 + 512, `signature ${delta.down - whole.down} bytes`);
  });
}

test('a 20 KiB file over an old file under the smallest block (500 bytes): no signature, sent whole, byte-exact', async (t) => {
  const tiny = randomBytes(500);
  const sent = await replace(t, tiny, rewritten, true);
  assert.equal(sent.literal, undefined, 'no delta without a signature');
  assert.ok(sent.up >= SIZE, `${sent.up} bytes up: the whole file`);
});
