import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  CPACE_ISK_BYTES,
  CPACE_POINT_BYTES,
  cpaceGenerator,
  cpaceInitiatorFinish,
  cpaceInitiatorStart,
  cpaceLvCat,
  cpacePrependLen,
  cpaceResponderRespond,
  cpaceSampleScalar,
  cpaceTranscript,
} from '../../src/crypto/cpace.js';
import { isFerryError } from '../../src/errors/index.js';

const ascii = (text: string): Buffer => Buffer.from(text, 'ascii');
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const range = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i));

// The string-function vectors of the draft's appendix ("CPace function definitions").
test('`cpacePrependLen` matches the draft: LEB128 length, one byte below 128', () => {
  assert.equal(hexOf(cpacePrependLen(Buffer.alloc(0))), '00');
  assert.equal(hexOf(cpacePrependLen(ascii('1234'))), '0431323334');
  assert.equal(hexOf(cpacePrependLen(range(127))), `7f${hexOf(range(127))}`);
  assert.equal(hexOf(cpacePrependLen(range(128))), `8001${hexOf(range(128))}`);
  assert.equal(hexOf(cpacePrependLen(Buffer.alloc(300)).subarray(0, 2)), 'ac02');
});

test('`cpaceLvCat` matches the draft', () => {
  assert.equal(
    hexOf(cpaceLvCat(ascii('1234'), ascii('5'), Buffer.alloc(0), ascii('678'))),
    '043132333401350003363738',
  );
});

test('`cpaceTranscript` ir and oc match the draft', () => {
  const t = (ya: string, yb: string, kind: 'ir' | 'oc'): string =>
    hexOf(cpaceTranscript(ascii(ya), ascii('PartyA'), ascii(yb), ascii('PartyB'), kind));
  assert.equal(t('123', '234', 'ir'), '03313233065061727479410332333406506172747942');
  assert.equal(t('3456', '2345', 'ir'), '043334353606506172747941043233343506506172747942');
  assert.equal(t('123', '234', 'oc'), '6f6303323334065061727479420331323306506172747941');
  assert.equal(t('3456', '2345', 'oc'), '6f63043334353606506172747941043233343506506172747942');
});

test('cpace with random scalars: both sides derive the same 64-byte ISK', () => {
  const common = { prs: ascii('hunter2'), ci: ascii('ci'), sid: randomBytes(32) };
  const a = cpaceInitiatorStart({ ...common, ad: ascii('a') });
  assert.equal(a.message.length, CPACE_POINT_BYTES);
  const b = cpaceResponderRespond({ ...common, ad: ascii('b') }, { message: a.message, ad: ascii('a') });
  const iskA = cpaceInitiatorFinish(a.state, { message: b.message, ad: ascii('b') });
  assert.equal(iskA.length, CPACE_ISK_BYTES);
  assert.deepEqual(iskA, b.isk);
});

test('cpace with a different sid, CI or associated data gives different ISKs', () => {
  const base = { prs: ascii('pw'), ci: ascii('ci'), sid: ascii('sid-1') };
  const variants = [
    { responder: { ...base, sid: ascii('sid-2') }, adA: 'a' },
    { responder: { ...base, ci: ascii('ci-2') }, adA: 'a' },
    { responder: base, adA: 'a-changed-in-flight' },
  ];
  for (const { responder, adA } of variants) {
    const a = cpaceInitiatorStart({ ...base, ad: ascii('a') });
    const b = cpaceResponderRespond({ ...responder, ad: ascii('b') }, { message: a.message, ad: ascii(adA) });
    const iskA = cpaceInitiatorFinish(a.state, { message: b.message, ad: ascii('b') });
    assert.notDeepEqual(iskA, b.isk);
  }
});

test('cpace rejects the identity element and a wrong-length message', () => {
  const common = { prs: ascii('pw'), ci: ascii('ci'), sid: ascii('sid') };
  for (const bad of [Buffer.alloc(32), Buffer.alloc(31, 1), Buffer.alloc(33, 1), Buffer.alloc(32, 0xff)]) {
    assert.throws(
      () => cpaceResponderRespond({ ...common, ad: ascii('b') }, { message: bad, ad: ascii('a') }),
      (err) => isFerryError(err, 'INVALID_PUBLIC_KEY'),
    );
  }
  const a = cpaceInitiatorStart({ ...common, ad: ascii('a') });
  assert.throws(
    () => cpaceInitiatorFinish(a.state, { message: Buffer.alloc(32), ad: ascii('b') }),
    (err) => isFerryError(err, 'INVALID_PUBLIC_KEY'),
  );
});

test('`CpaceInitiatorState` is single use and prints as [redacted]', () => {
  const common = { prs: ascii('pw'), ci: ascii('ci'), sid: ascii('sid') };
  const a = cpaceInitiatorStart({ ...common, ad: ascii('a') });
  assert.match(inspect(a.state), /\[redacted\]/);
  assert.equal(JSON.stringify({ state: a.state }), '{"state":"[redacted]"}');
  const b = cpaceResponderRespond({ ...common, ad: ascii('b') }, { message: a.message, ad: ascii('a') });
  cpaceInitiatorFinish(a.state, { message: b.message, ad: ascii('b') });
  assert.throws(
    () => cpaceInitiatorFinish(a.state, { message: b.message, ad: ascii('b') }),
    (err) => isFerryError(err, 'INTERNAL'),
  );
});

test('an injected scalar is zeroed once read', () => {
  const scalar = cpaceSampleScalar();
  cpaceInitiatorStart({ prs: ascii('pw'), ci: ascii('ci'), sid: ascii('sid'), ad: ascii('a'), scalar });
  assert.ok(scalar.every((byte) => byte === 0));
});

test('`cpaceSampleScalar` clears the bits from 252 up and never returns zero', () => {
  for (let i = 0; i < 50; i++) assert.ok((cpaceSampleScalar()[31] ?? 0) < 0x10);
  let calls = 0;
  const scalar = cpaceSampleScalar((n) => (++calls === 1 ? Buffer.alloc(n) : Buffer.alloc(n, 0xff)));
  assert.equal(calls, 2);
  assert.equal(scalar[31], 0x0f);
});

test('`cpaceGenerator` depends on every input', () => {
  const g = hexOf(cpaceGenerator(ascii('pw'), ascii('ci'), ascii('sid')));
  assert.notEqual(hexOf(cpaceGenerator(ascii('pW'), ascii('ci'), ascii('sid'))), g);
  assert.notEqual(hexOf(cpaceGenerator(ascii('pw'), ascii('cI'), ascii('sid'))), g);
  assert.notEqual(hexOf(cpaceGenerator(ascii('pw'), ascii('ci'), ascii('siD'))), g);
  // lv_cat keeps field boundaries: moving a byte from PRS to CI changes g.
  assert.notEqual(hexOf(cpaceGenerator(ascii('p'), ascii('wci'), ascii('sid'))), g);
});
