import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  escapeForTerminal,
  escapeJsonText,
  escapeStringFields,
  jsonForTerminal,
} from '../../src/cli/escape-for-terminal.js';
import { SeededRandom } from '../helpers/seeded-random.js';

/** Every character a terminal may act on or that reorders or hides text (SECURITY.md, "Terminal output"). */
const UNSAFE = /(?![\u200C\u200D])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

test('`escapeForTerminal` makes C0 controls, DEL and C1 controls visible as \\xHH', () => {
  assert.equal(escapeForTerminal('a\u001b[2Jb'), 'a\\x1B[2Jb');
  assert.equal(escapeForTerminal('\u0000\u0007\t\n\r'), '\\x00\\x07\\x09\\x0A\\x0D');
  assert.equal(escapeForTerminal('del\u007f'), 'del\\x7F');
  assert.equal(escapeForTerminal('csi\u009b31m \u0080 \u0085 \u009f'), 'csi\\x9B31m \\x80 \\x85 \\x9F');
});

test('`escapeForTerminal` makes bidi overrides, isolates and marks, and other invisible format characters visible', () => {
  assert.equal(
    escapeForTerminal('\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c'),
    '\\u202A\\u202B\\u202C\\u202D\\u202E\\u2066\\u2067\\u2068\\u2069\\u200E\\u200F\\u061C',
  );
  assert.equal(escapeForTerminal('invoice\u202Efdp.exe'), 'invoice\\u202Efdp.exe');
  assert.equal(
    escapeForTerminal('zero\u200bwidth\ufeff soft\u00adhyphen'),
    'zero\\u200Bwidth\\uFEFF soft\\xADhyphen',
  );
  assert.equal(escapeForTerminal('line\u2028para\u2029'), 'line\\u2028para\\u2029');
  assert.equal(escapeForTerminal('tag\u{E0041}'), 'tag\\u{E0041}');
  assert.equal(escapeForTerminal('lone\ud800'), 'lone\\uD800');
});

test('`escapeForTerminal` leaves printable text of every script alone, joiners in emoji and Persian included', () => {
  for (const text of [
    'photos/2024 summer (1).jpg',
    'été/日本語/🗻.jpg',
    'עברית/العربية',
    'می\u200cخواهم',
    '👩\u200d👩\u200d👧',
    'no-break\u00a0space',
    '',
  ])
    assert.equal(escapeForTerminal(text), text);
});

test('`escapeForTerminal` escapes a backslash, so two different strings never print alike', () => {
  assert.equal(escapeForTerminal('a\\x1Bb'), 'a\\\\x1Bb');
  assert.notEqual(escapeForTerminal('a\\x1Bb'), escapeForTerminal('a\u001bb'));
});

/** Strings drawn mostly from the dangerous ranges, with some printable text and astral characters. */
function hostileString(random: SeededRandom): string {
  const pools: Array<[number, number]> = [
    [0x00, 0x7f],
    [0x80, 0x9f],
    [0xa0, 0x2ff],
    [0x2000, 0x206f],
    [0xd800, 0xdfff],
    [0xfeff, 0xfeff],
    [0x1f300, 0x1f64f],
    [0xe0000, 0xe007f],
  ];
  let out = '';
  const length = random.int(0, 40);
  for (let i = 0; i < length; i++) {
    const [low, high] = pools[random.int(0, pools.length - 1)]!;
    const point = random.int(low, high);
    out += point >= 0xd800 && point <= 0xdfff ? String.fromCharCode(point) : String.fromCodePoint(point);
  }
  return out;
}

test('`escapeForTerminal` output never holds an unsafe character, and distinct inputs stay distinct (seed 11)', () => {
  const random = new SeededRandom(11);
  const seen = new Map<string, string>();
  for (let i = 0; i < 5000; i++) {
    const text = hostileString(random);
    const shown = escapeForTerminal(text);
    assert.doesNotMatch(shown, UNSAFE, JSON.stringify(text));
    const before = seen.get(shown);
    if (before !== undefined) assert.equal(before, text, 'two inputs printed alike');
    seen.set(shown, text);
  }
});

test('`jsonForTerminal` text holds no unsafe character and parses back to exactly the same strings (seed 12)', () => {
  const random = new SeededRandom(12);
  for (let i = 0; i < 5000; i++) {
    const value = { path: hostileString(random), nested: [hostileString(random)] };
    const json = jsonForTerminal(value);
    assert.doesNotMatch(json, UNSAFE, JSON.stringify(value));
    assert.deepEqual(JSON.parse(json), value);
  }
});

test('`escapeJsonText` escapes inside strings only: the newline that ends a log line stays', () => {
  const line = `${JSON.stringify({ msg: 'uploaded', path: 'a\u202eb\u009b' })}\n`;
  const escaped = escapeJsonText(line);
  assert.equal(escaped, '{"msg":"uploaded","path":"a\\u202eb\\u009b"}\n');
  assert.deepEqual(JSON.parse(escaped), JSON.parse(line));
});

test('`escapeStringFields` escapes every string field of an event and leaves buffers and numbers alone', () => {
  const digest = Buffer.alloc(32, 1);
  const event = { type: 'transfer-finished', remotePath: 'a\u001b[2J', size: 3, digest };
  assert.deepEqual(escapeStringFields(event), {
    type: 'transfer-finished',
    remotePath: 'a\\x1B[2J',
    size: 3,
    digest,
  });
  assert.equal(event.remotePath, 'a\u001b[2J', 'the original is not changed');
});
