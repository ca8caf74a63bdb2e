import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  cpaceDeriveIsk,
  cpaceGenerator,
  cpaceInitiatorFinish,
  cpaceInitiatorStart,
  cpaceResponderRespond,
  cpaceScalarMultVfy,
  cpaceTranscript,
} from '../../src/crypto/cpace.js';
import { isFerryError } from '../../src/errors/index.js';

// The vendored vectors (provenance and licence in test/vectors/README.md).
const VECTORS = fileURLToPath(new URL('../vectors/cpace-ristretto255-sha512.json', import.meta.url));

interface CpaceVector {
  PRS: string;
  CI: string;
  sid: string;
  g: string;
  ya: string;
  ADa: string;
  Ya: string;
  yb: string;
  ADb: string;
  Yb: string;
  K: string;
  ISK_IR: string;
  ISK_SY?: string;
  sid_output_ir?: string;
  sid_output_oc?: string;
}

interface PointVectors {
  Valid: { s: string; X: string; 'G.scalar_mult_vfy(s,X)': string };
  'Invalid Y1': string;
  'Invalid Y2': string;
}

const file = JSON.parse(readFileSync(VECTORS, 'utf8')) as {
  G_Coffee25519: CpaceVector;
  G_Coffee25519_points: PointVectors;
};
const v = file.G_Coffee25519;
const points = file.G_Coffee25519_points;
// Fresh copies each time: the cpace functions zero the scalars they are given.
const hex = (text: string): Buffer => Buffer.from(text, 'hex');
const upper = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase();

test('cpace vector: generator g from PRS, CI and sid', () => {
  assert.equal(upper(cpaceGenerator(hex(v.PRS), hex(v.CI), hex(v.sid))), v.g);
});

test('cpace vector: Ya, Yb, K and ISK_IR through the initiator and responder API', () => {
  const common = { prs: hex(v.PRS), ci: hex(v.CI), sid: hex(v.sid) };
  const a = cpaceInitiatorStart({ ...common, ad: hex(v.ADa), scalar: hex(v.ya) });
  assert.equal(upper(a.message), v.Ya);
  const b = cpaceResponderRespond(
    { ...common, ad: hex(v.ADb), scalar: hex(v.yb) },
    { message: a.message, ad: hex(v.ADa) },
  );
  assert.equal(upper(b.message), v.Yb);
  assert.equal(upper(b.isk), v.ISK_IR);
  const iskA = cpaceInitiatorFinish(a.state, { message: b.message, ad: hex(v.ADb) });
  assert.equal(upper(iskA), v.ISK_IR);
});

test('cpace vector: K from both sides, ISK_IR and ISK_SY from the building blocks', () => {
  const kA = cpaceScalarMultVfy(hex(v.ya), hex(v.Yb));
  const kB = cpaceScalarMultVfy(hex(v.yb), hex(v.Ya));
  assert.equal(upper(kA), v.K);
  assert.equal(upper(kB), v.K);
  const inputs = { sid: hex(v.sid), k: kA, ya: hex(v.Ya), ada: hex(v.ADa), yb: hex(v.Yb), adb: hex(v.ADb) };
  assert.equal(upper(cpaceDeriveIsk({ ...inputs, transcript: 'ir' })), v.ISK_IR);
  if (v.ISK_SY !== undefined) {
    assert.equal(upper(cpaceDeriveIsk({ ...inputs, transcript: 'oc' })), v.ISK_SY);
  }
});

test('cpace vector: ISK_SY through the API with transcript_oc', { skip: v.ISK_SY === undefined }, () => {
  const common = { prs: hex(v.PRS), ci: hex(v.CI), sid: hex(v.sid), transcript: 'oc' as const };
  const a = cpaceInitiatorStart({ ...common, ad: hex(v.ADa), scalar: hex(v.ya) });
  const b = cpaceResponderRespond(
    { ...common, ad: hex(v.ADb), scalar: hex(v.yb) },
    { message: a.message, ad: hex(v.ADa) },
  );
  assert.equal(upper(b.isk), v.ISK_SY);
  assert.equal(upper(cpaceInitiatorFinish(a.state, { message: b.message, ad: hex(v.ADb) })), v.ISK_SY);
});

test('cpace vector: optional sid_output for both transcripts', () => {
  // sid_output = H.hash("CPaceSidOutput" || transcript): checks the transcript encodings on their own.
  for (const [kind, expected] of [
    ['ir', v.sid_output_ir],
    ['oc', v.sid_output_oc],
  ] as const) {
    if (expected === undefined) continue;
    const transcript = cpaceTranscript(hex(v.Ya), hex(v.ADa), hex(v.Yb), hex(v.ADb), kind);
    const out = createHash('sha512').update('CPaceSidOutput').update(transcript).digest();
    assert.equal(upper(out), expected, kind);
  }
});

test('cpace vector: scalar_mult_vfy on a valid point and on the two invalid encodings', () => {
  assert.equal(
    upper(cpaceScalarMultVfy(hex(points.Valid.s), hex(points.Valid.X))),
    points.Valid['G.scalar_mult_vfy(s,X)'],
  );
  const identity = '00'.repeat(32).toUpperCase();
  assert.equal(upper(cpaceScalarMultVfy(hex(points.Valid.s), hex(points['Invalid Y1']))), identity);
  assert.equal(upper(cpaceScalarMultVfy(hex(points.Valid.s), hex(points['Invalid Y2']))), identity);
});

test('cpace responder and initiator abort on the invalid encodings of the vector file', () => {
  const common = { prs: hex(v.PRS), ci: hex(v.CI), sid: hex(v.sid) };
  for (const bad of [points['Invalid Y1'], points['Invalid Y2']]) {
    assert.throws(
      () => cpaceResponderRespond({ ...common, ad: hex(v.ADb) }, { message: hex(bad), ad: hex(v.ADa) }),
      (err) => isFerryError(err, 'INVALID_PUBLIC_KEY'),
    );
    const a = cpaceInitiatorStart({ ...common, ad: hex(v.ADa) });
    assert.throws(
      () => cpaceInitiatorFinish(a.state, { message: hex(bad), ad: hex(v.ADb) }),
      (err) => isFerryError(err, 'INVALID_PUBLIC_KEY'),
    );
  }
});

test('cpace with a tampered PRS gives a different ISK on each side', () => {
  const prs = hex(v.PRS);
  const tampered = Buffer.from(prs);
  tampered[0] = (tampered[0] ?? 0) ^ 0x01;
  const a = cpaceInitiatorStart({ prs, ci: hex(v.CI), sid: hex(v.sid), ad: hex(v.ADa), scalar: hex(v.ya) });
  const b = cpaceResponderRespond(
    { prs: tampered, ci: hex(v.CI), sid: hex(v.sid), ad: hex(v.ADb), scalar: hex(v.yb) },
    { message: a.message, ad: hex(v.ADa) },
  );
  assert.notEqual(upper(b.message), v.Yb);
  assert.notEqual(upper(b.isk), v.ISK_IR);
  const iskA = cpaceInitiatorFinish(a.state, { message: b.message, ad: hex(v.ADb) });
  assert.notEqual(upper(iskA), upper(b.isk));
});
