import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  PAIRING_CODE_CHARS,
  formatPairingCode,
  generatePairingCode,
  isInviteId,
  parsePairingCode,
} from '../../src/crypto/pairing-code.js';
import { isFerryError } from '../../src/errors/index.js';

const invalid = (pattern: RegExp) => (err: unknown) =>
  isFerryError(err, 'PAIRING_CODE_INVALID') && pattern.test(err.message);

test('`generatePairingCode` gives 3 groups of 4 base32 characters that parse back', () => {
  for (let i = 0; i < 100; i++) {
    const code = generatePairingCode();
    const text = code.format();
    assert.match(text, /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    assert.ok(isInviteId(code.inviteId));
    assert.equal(text.replace('-', '').slice(0, 5), code.inviteId);
    const parsed = parsePairingCode(text);
    assert.equal(parsed.inviteId, code.inviteId);
    assert.deepEqual(parsed.secret, code.secret);
  }
});

test('`parsePairingCode` accepts upper case, spaces and missing or extra dashes', () => {
  const code = generatePairingCode();
  const text = code.format();
  for (const variant of [
    text.toUpperCase(),
    text.replaceAll('-', ''),
    ` ${text.replaceAll('-', ' ')} `,
    text.replaceAll('-', '--'),
    `${text.slice(0, 2)}-${text.slice(2)}`,
  ]) {
    assert.deepEqual(parsePairingCode(variant).secret, code.secret, variant);
  }
});

test('`parsePairingCode` catches a mistyped character by its check character', () => {
  const text = generatePairingCode().format().replaceAll('-', '');
  let caught = 0;
  let total = 0;
  for (let i = 0; i < PAIRING_CODE_CHARS; i++) {
    for (const replacement of 'abcdefghijklmnopqrstuvwxyz234567') {
      if (replacement === text[i]) continue;
      total++;
      const typo = text.slice(0, i) + replacement + text.slice(i + 1);
      try {
        parsePairingCode(typo);
      } catch (err) {
        assert.ok(invalid(/check character/)(err));
        caught++;
      }
    }
  }
  // A 5-bit check catches about 31 typos in 32.
  assert.ok(caught / total > 0.9, `caught ${caught} of ${total}`);
});

test('`parsePairingCode` rejects a wrong length or alphabet without echoing the code', () => {
  assert.throws(() => parsePairingCode('abcd-efgh'), invalid(/expected 12 characters.*got 8/));
  assert.throws(() => parsePairingCode('abcd-efgh-ijk1'), invalid(/character 12 is not in the alphabet/));
  try {
    parsePairingCode('abcd-efgh-ijk0');
  } catch (err) {
    assert.doesNotMatch((err as Error).message, /abcd|efgh/);
  }
});

test('`generatePairingCode` draws a new invite id while `inviteIdTaken` says it is in use', () => {
  const seen: string[] = [];
  const code = generatePairingCode({
    inviteIdTaken: (id) => {
      seen.push(id);
      return seen.length < 3;
    },
  });
  assert.equal(seen.length, 3);
  assert.equal(code.inviteId, seen[2]);
});

test('`PairingCode` prints as [redacted] and `dispose` zeroes the secret', () => {
  const code = generatePairingCode();
  assert.match(inspect(code), new RegExp(`^PairingCode ${code.inviteId} \\[redacted\\]$`));
  assert.equal(JSON.stringify({ code }), '{"code":"[redacted]"}');
  assert.equal(`${String(code)}`, '[redacted]');
  code.dispose();
  assert.ok(code.secret.every((byte) => byte === 0));
});

test('`formatPairingCode` encodes the 30 secret bits as 6 characters after the 5 of the invite id', () => {
  assert.equal(formatPairingCode('aaaaa', Buffer.alloc(4)).slice(0, 13), 'aaaa-aaaa-aaa');
  assert.equal(formatPairingCode('abcde', Buffer.of(0x3f, 0xff, 0xff, 0xff)).slice(0, 13), 'abcd-e777-777');
  // 1 in the lowest bit is the last secret character; 2^29 the first.
  assert.equal(formatPairingCode('abcde', Buffer.of(0, 0, 0, 1)).slice(0, 13), 'abcd-eaaa-aab');
  assert.equal(formatPairingCode('abcde', Buffer.of(0x20, 0, 0, 0)).slice(0, 13), 'abcd-eqaa-aaa');
  const code = parsePairingCode(formatPairingCode('abcde', Buffer.of(0x12, 0x34, 0x56, 0x78)));
  assert.deepEqual(code.secret, Buffer.of(0x12, 0x34, 0x56, 0x78));
});

test('a secret with either of its top 2 bits set, or of another length, is not a secret', () => {
  for (const secret of [
    Buffer.of(0x40, 0, 0, 0),
    Buffer.of(0x80, 0, 0, 0),
    Buffer.alloc(5),
    Buffer.alloc(3),
  ]) {
    assert.throws(() => formatPairingCode('abcde', secret), invalid(/4 bytes holding 30 bits/));
  }
});

test('`generatePairingCode` draws all 25 invite-id bits and all 30 secret bits, and no more', () => {
  // A random source returning all ones: the id is the largest (77777), the secret 2^30 - 1.
  const code = generatePairingCode({ random: (n) => Buffer.alloc(n, 0xff) });
  assert.equal(code.inviteId, '77777');
  assert.deepEqual(code.secret, Buffer.of(0x3f, 0xff, 0xff, 0xff));
  const zero = generatePairingCode({ random: (n) => Buffer.alloc(n) });
  assert.equal(zero.inviteId, 'aaaaa');
  assert.deepEqual(zero.secret, Buffer.alloc(4));
});
