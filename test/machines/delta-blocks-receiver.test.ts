// DeltaBlocksReceiver (PROTOCOL.md §5.15.2, §6.10): the delta signature's records, checked with bytes alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { DeltaBlocksReceiver } from '../../src/machines/index.js';
import {
  LEAF_BYTES,
  decodeMessage,
  deltaSignatureOf,
  encodeMessage,
  type Message,
} from '../../src/protocol/index.js';

function records(old: Buffer, perRecord: number): Message[] {
  const signature = deltaSignatureOf(old);
  const total = signature.weak.length;
  const out: Message[] = [];
  for (let first = 0; first < total; first += perRecord) {
    const count = Math.min(perRecord, total - first);
    // Through the codec, so the machine sees what the wire delivers.
    out.push(
      decodeMessage(
        encodeMessage({
          type: 'DELTA_BLOCKS',
          ref: 9,
          oldSize: old.length,
          blockBytes: signature.blockBytes,
          firstBlock: first,
          weak: signature.weak.subarray(first, first + count),
          strong: signature.strong.subarray(first * 16, (first + count) * 16),
        }),
      ),
    );
  }
  return out;
}

const old = Buffer.alloc(5 * LEAF_BYTES + 7);
for (let i = 0; i < old.length; i++) old[i] = (i * 31 + (i >> 9)) & 0xff;

test('records in order rebuild the signature the server computed', () => {
  for (const perRecord of [1, 2, 5]) {
    const machine = new DeltaBlocksReceiver();
    const all = records(old, perRecord);
    all.slice(0, -1).forEach((message) => assert.equal(machine.receive(message), undefined));
    const signature = machine.receive(all[all.length - 1]!);
    assert.equal(machine.state, 'complete');
    assert.deepEqual(signature?.strong, deltaSignatureOf(old).strong);
    assert.deepEqual([...signature.weak], [...deltaSignatureOf(old).weak]);
  }
});

test('a record out of order, a changed total, a record after the last and other messages are refused', () => {
  const all = records(old, 2);
  const skipping = new DeltaBlocksReceiver();
  skipping.receive(all[0]!);
  assert.throws(() => skipping.receive(all[2]!), { code: 'MESSAGE_MALFORMED' });
  const late = new DeltaBlocksReceiver();
  assert.throws(() => late.receive(all[1]!), { code: 'MESSAGE_MALFORMED' });
  const changed = new DeltaBlocksReceiver();
  changed.receive(all[0]!);
  const other = records(Buffer.concat([old, old]), 2)[1]!;
  assert.throws(() => changed.receive(other), { code: 'MESSAGE_MALFORMED' });
  const after = new DeltaBlocksReceiver();
  for (const message of all) after.receive(message);
  assert.throws(() => after.receive(all[0]!), { code: 'MESSAGE_UNEXPECTED' });
  const data = new DeltaBlocksReceiver();
  assert.throws(
    () =>
      data.receive({ type: 'PUT_DONE', ref: 9, identical: false, part: false, fileDigest: Buffer.alloc(32) }),
    { code: 'MESSAGE_UNEXPECTED' },
  );
});
