import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { FERRY_ID_CHARS, formatFerryId, parseFerryId, shortFerryId } from '../../src/crypto/ferry-id.js';
import { isFerryError } from '../../src/errors/index.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

// Fixed keys, so the substitution-rate test gives the same answer on every run.
function fixedKey(index: number): Buffer {
  return createHash('sha256').update(`ferry-id test key ${index}`).digest();
}

function idError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isFerryError(err, 'ID_INVALID'), `expected ID_INVALID, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected ID_INVALID, nothing was thrown');
}

test('`formatFerryId` gives 6 dashed groups of 9 lower-case base32 characters', () => {
  const id = formatFerryId(fixedKey(0));
  assert.match(id, /^[a-z2-7]{9}(-[a-z2-7]{9}){5}$/);
  assert.equal(id.replaceAll('-', '').length, FERRY_ID_CHARS);
});

test('`formatFerryId` matches RFC 4648 base32 for the key part', () => {
  // RFC 4648 §10 vector "foobar" -> MZXW6YTBOI, checked on a key that starts with those bytes.
  const key = Buffer.alloc(32);
  key.write('foobar', 'ascii');
  assert.ok(formatFerryId(key).replaceAll('-', '').startsWith('mzxw6ytboi'));
  // The all-zero key encodes to 52 'a's; only the two check characters differ.
  assert.ok(formatFerryId(Buffer.alloc(32)).replaceAll('-', '').startsWith('a'.repeat(52)));
});

test('`parseFerryId` round-trips random keys', () => {
  for (let i = 0; i < 500; i++) {
    const key = randomBytes(32);
    assert.deepEqual(parseFerryId(formatFerryId(key)), key);
  }
});

test('`parseFerryId` accepts upper case, missing or extra dashes and surrounding whitespace', () => {
  const key = fixedKey(1);
  const id = formatFerryId(key);
  assert.deepEqual(parseFerryId(id.toUpperCase()), key);
  assert.deepEqual(parseFerryId(id.replaceAll('-', '')), key);
  assert.deepEqual(parseFerryId(`  \t${id}\n`), key);
  assert.deepEqual(parseFerryId(id.replaceAll('-', '').replace(/(.{4})/g, '$1-')), key);
});

test('`parseFerryId` rejects a wrong length and says so', () => {
  const id = formatFerryId(fixedKey(2));
  assert.match(
    idError(() => parseFerryId(id.slice(0, -1))),
    /expected 54 characters.*got 53/,
  );
  assert.match(
    idError(() => parseFerryId(`${id}a`)),
    /got 55/,
  );
  assert.match(
    idError(() => parseFerryId('')),
    /got 0/,
  );
});

test('`parseFerryId` rejects characters outside the alphabet and says which', () => {
  const chars = formatFerryId(fixedKey(3)).replaceAll('-', '');
  for (const bad of ['0', '1', '8', '9', '=', ' ', 'é']) {
    const text = `${chars.slice(0, 10)}${bad}${chars.slice(11)}`;
    assert.match(
      idError(() => parseFerryId(text)),
      /position 11 is not in the alphabet/,
    );
  }
});

test('`parseFerryId` rejects a wrong check character and says so', () => {
  const chars = formatFerryId(fixedKey(4)).replaceAll('-', '');
  const last = chars.charAt(53) === 'a' ? 'b' : 'a';
  assert.match(
    idError(() => parseFerryId(chars.slice(0, 53) + last)),
    /check characters do not match/,
  );
});

test('`parseFerryId` rejects non-zero padding bits in the last key character', () => {
  const chars = formatFerryId(fixedKey(5)).replaceAll('-', '');
  const text = `${chars.slice(0, 51)}b${chars.slice(52)}`;
  assert.match(
    idError(() => parseFerryId(text)),
    /character 52 must be 'a' or 'q'/,
  );
});

test('`parseFerryId` rejects at least 99.9% of single-character substitutions', () => {
  // 10 check bits miss a random change with probability 1/1024 (0.098%), so the rate is ~99.9% by design;
  // changes to the check characters themselves and to the padding bits are always caught.
  let tried = 0;
  let missed = 0;
  for (let k = 0; k < 40; k++) {
    const chars = formatFerryId(fixedKey(100 + k)).replaceAll('-', '');
    for (let i = 0; i < chars.length; i++) {
      for (const replacement of ALPHABET) {
        if (replacement === chars.charAt(i)) continue;
        tried++;
        const text = chars.slice(0, i) + replacement + chars.slice(i + 1);
        try {
          parseFerryId(text);
          missed++;
          assert.ok(i < 52, `a substitution in check character ${i} was accepted`);
        } catch (err) {
          assert.ok(isFerryError(err, 'ID_INVALID'));
        }
      }
    }
  }
  assert.equal(tried, 40 * 54 * 31);
  const rate = 1 - missed / tried;
  assert.ok(rate >= 0.999, `rejected ${(rate * 100).toFixed(3)}% (${missed} of ${tried} accepted)`);
});

test('`shortFerryId` is the first group of the ferry ID', () => {
  const key = fixedKey(6);
  assert.equal(shortFerryId(key), formatFerryId(key).split('-')[0]);
  assert.equal(shortFerryId(key).length, 9);
});

test('`formatFerryId` rejects a key that is not 32 bytes', () => {
  assert.match(
    idError(() => formatFerryId(Buffer.alloc(31))),
    /32 bytes, got 31/,
  );
});
