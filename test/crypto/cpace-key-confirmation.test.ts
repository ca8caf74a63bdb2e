// Explicit key confirmation of pairing (PROTOCOL.md §12.3), as draft-irtf-cfrg-cpace's "Key confirmation"
// section gives it: mac_key = SHA-512("CPaceMac" || sid || ISK), Ta = HMAC-SHA-512(mac_key, lv_cat(Ya, ADa)),
// Tb = HMAC-SHA-512(mac_key, lv_cat(Yb, ADb)). The draft has no vectors for this step, so
// test/vectors/cpace-key-confirmation.json holds ones computed outside ferry (Python's hashlib and hmac) over
// the draft's own CPACE-RISTR255-SHA512 vector; checked here in both directions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { pairingConfirmTag, pairingConfirmTags, pairingMacKey } from '../../src/crypto/index.js';

interface ConfirmationVector {
  name: string;
  sid: string;
  ISK: string;
  Ya: string;
  ADa: string;
  Yb: string;
  ADb: string;
  mac_key: string;
  Ta: string;
  Tb: string;
}

const file = JSON.parse(
  readFileSync(new URL('../vectors/cpace-key-confirmation.json', import.meta.url), 'utf8'),
) as { vectors: ConfirmationVector[] };
const draft = JSON.parse(
  readFileSync(new URL('../vectors/cpace-ristretto255-sha512.json', import.meta.url), 'utf8'),
) as { G_Coffee25519: Record<string, string> };

const hex = (text: string): Buffer => Buffer.from(text, 'hex');

test('cpace-key-confirmation.json is computed over the draft vector: same sid, ISK_IR, Ya, ADa, Yb, ADb', () => {
  const [v] = file.vectors;
  assert.ok(v);
  const d = draft.G_Coffee25519;
  for (const [ours, theirs] of [
    ['sid', 'sid'],
    ['ISK', 'ISK_IR'],
    ['Ya', 'Ya'],
    ['ADa', 'ADa'],
    ['Yb', 'Yb'],
    ['ADb', 'ADb'],
  ] as const) {
    assert.deepEqual(hex(v[ours]), hex(d[theirs] ?? ''), `${ours} is the draft's ${theirs}`);
  }
});

test('the code computes mac_key, Ta and Tb of every vector (PROTOCOL.md §12.3)', () => {
  assert.ok(file.vectors.length > 0);
  for (const v of file.vectors) {
    const macKey = pairingMacKey(hex(v.sid), hex(v.ISK));
    assert.equal(macKey.toString('hex'), v.mac_key, `${v.name} mac_key`);
    assert.equal(pairingConfirmTag(macKey, hex(v.Ya), hex(v.ADa)).toString('hex'), v.Ta, `${v.name} Ta`);
    assert.equal(pairingConfirmTag(macKey, hex(v.Yb), hex(v.ADb)).toString('hex'), v.Tb, `${v.name} Tb`);
    const tags = pairingConfirmTags(hex(v.sid), hex(v.ISK), hex(v.Ya), hex(v.ADa), hex(v.Yb), hex(v.ADb));
    assert.equal(tags.ta.toString('hex'), v.Ta);
    assert.equal(tags.tb.toString('hex'), v.Tb);
  }
});

test("the file's tags verify as the pairing compares them, and no other tag does: a flipped bit, the other role's tag, another sid", () => {
  for (const v of file.vectors) {
    const tags = pairingConfirmTags(hex(v.sid), hex(v.ISK), hex(v.Ya), hex(v.ADa), hex(v.Yb), hex(v.ADb));
    // The comparison the pairing machines make (src/machines/pairing-exchange.ts), fed the file's bytes.
    assert.ok(timingSafeEqual(tags.ta, hex(v.Ta)), 'Ta from the file is accepted');
    assert.ok(timingSafeEqual(tags.tb, hex(v.Tb)), 'Tb from the file is accepted');
    for (const [name, tag] of [
      ['Ta', v.Ta],
      ['Tb', v.Tb],
    ] as const) {
      for (const bit of [0, 255, 511]) {
        const flipped = hex(tag);
        flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        assert.ok(!timingSafeEqual(name === 'Ta' ? tags.ta : tags.tb, flipped), `${name} bit ${bit}`);
      }
    }
    assert.ok(!hex(v.Ta).equals(hex(v.Tb)), 'one role cannot replay the other role’s tag');
    const otherSid = hex(v.sid);
    otherSid[0] = (otherSid[0] ?? 0) ^ 1;
    const other = pairingConfirmTags(otherSid, hex(v.ISK), hex(v.Ya), hex(v.ADa), hex(v.Yb), hex(v.ADb));
    assert.ok(!other.ta.equals(hex(v.Ta)) && !other.tb.equals(hex(v.Tb)), 'sid is bound through mac_key');
  }
});
