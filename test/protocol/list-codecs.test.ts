import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ErrorCode } from '../../src/errors/index.js';
import {
  LIST_ENTRIES_HEADER_BYTES,
  MAX_LIST_ENTRIES,
  MAX_MESSAGE_BYTES,
  decodeMessage,
  encodeMessage,
  listEntryBytes,
  type ListEntry,
  type Message,
} from '../../src/protocol/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { assertFerryCode, hexBytes as h } from './message-assertions.js';
import { SAMPLE_MESSAGES, packedEntries } from './message-samples.js';

// Wire vectors written out by hand from PROTOCOL.md §5 and the entry layout of §5.12.
const VECTORS: readonly [string, Message][] = [
  ['30 00000005 01 0000', { type: 'LIST_REQUEST', ref: 5, recursive: true, selfOnly: false, path: '' }],
  [
    '30 00000005 00 0003 612f62',
    { type: 'LIST_REQUEST', ref: 5, recursive: false, selfOnly: false, path: 'a/b' },
  ],
  ['30 00000006 02 0001 61', { type: 'LIST_REQUEST', ref: 6, recursive: false, selfOnly: true, path: 'a' }],
  [
    '30 00000007 05 0000',
    { type: 'LIST_REQUEST', ref: 7, recursive: true, selfOnly: false, namesOnly: true, path: '' },
  ],
  [
    '31 00000005 0003' +
      ' 01 01a4 0000000000000801 0000018bcfe56800 0001 61 0000' +
      ' 02 01ed 0000000000001000 0000018bcfe56800 0001 64 0000' +
      ' 03 01ff 0000000000000002 0000018bcfe56800 0003 642f6c 0002 2e2e',
    {
      type: 'LIST_ENTRIES',
      ref: 5,
      entries: [
        { kind: 'file', mode: 0o644, size: 2049, mtimeMs: 1_700_000_000_000, path: 'a', linkTarget: '' },
        { kind: 'dir', mode: 0o755, size: 4096, mtimeMs: 1_700_000_000_000, path: 'd', linkTarget: '' },
        { kind: 'link', mode: 0o777, size: 2, mtimeMs: 1_700_000_000_000, path: 'd/l', linkTarget: '..' },
      ],
    },
  ],
  [
    '32 00000005 000f4240 00 01ed 0000018bcfe56800',
    {
      type: 'LIST_END',
      ref: 5,
      totalEntries: 1_000_000,
      isFile: false,
      mode: 0o755,
      mtimeMs: 1_700_000_000_000,
    },
  ],
  [
    '32 00000006 00000001 01 01a4 0000000000000000',
    { type: 'LIST_END', ref: 6, totalEntries: 1, isFile: true, mode: 0o644, mtimeMs: 0 },
  ],
];

test('every listing message matches its hand-written wire vector in both directions', () => {
  for (const [hex, message] of VECTORS) {
    assert.deepEqual(encodeMessage(message).toString('hex'), h(hex).toString('hex'), message.type);
    assert.deepEqual(decodeMessage(h(hex)), message, message.type);
  }
});

test('`listEntryBytes` of every entry plus LIST_ENTRIES_HEADER_BYTES is the encoded length', () => {
  const samples = SAMPLE_MESSAGES.filter((m) => m.type === 'LIST_ENTRIES');
  assert.ok(samples.length >= 3);
  for (const message of samples) {
    const predicted = message.entries.reduce(
      (sum, entry) => sum + listEntryBytes(entry),
      LIST_ENTRIES_HEADER_BYTES,
    );
    assert.equal(encodeMessage(message).length, predicted);
  }
});

test('entries packed with `listEntryBytes` can fill a LIST_ENTRIES to exactly MAX_MESSAGE_BYTES', () => {
  const entries = packedEntries();
  assert.equal(encodeMessage({ type: 'LIST_ENTRIES', ref: 1, entries }).length, MAX_MESSAGE_BYTES);
  const oneMore = [
    ...entries,
    { kind: 'file', mode: 0, size: 0, mtimeMs: 0, path: 'y', linkTarget: '' } as const,
  ];
  assertFerryCode(
    () => encodeMessage({ type: 'LIST_ENTRIES', ref: 1, entries: oneMore }),
    'MESSAGE_MALFORMED',
  );
});

function randomText(random: SeededRandom, maxLength: number): string {
  const alphabet = ['a', 'z', '0', '-', '.', ' ', 'é', 'ß', '日', '本', '🗻', '/'];
  const length = random.int(1, maxLength);
  let text = '';
  for (let i = 0; i < length; i++) text += random.pick(alphabet);
  return text;
}

function randomEntry(random: SeededRandom): ListEntry {
  const kind = random.pick(['file', 'dir', 'link'] as const);
  return {
    kind,
    mode: random.int(0, 0o7777),
    size: random.int(0, 2 ** 32) * random.int(0, 2 ** 20),
    mtimeMs: random.int(0, 2 ** 32) * 1000,
    path: randomText(random, random.next() < 0.1 ? 1000 : 60),
    linkTarget: kind === 'link' ? randomText(random, 40) : '',
  };
}

test('greedy packing by `listEntryBytes` never overflows a message and round-trips (seeded)', () => {
  const random = new SeededRandom(0x115);
  for (let round = 0; round < 30; round++) {
    const entries: ListEntry[] = [];
    let used = LIST_ENTRIES_HEADER_BYTES;
    for (;;) {
      const next = randomEntry(random);
      if (used + listEntryBytes(next) > MAX_MESSAGE_BYTES) {
        // The one that did not fit is refused by the encoder too.
        assertFerryCode(
          () => encodeMessage({ type: 'LIST_ENTRIES', ref: 1, entries: [...entries, next] }),
          'MESSAGE_MALFORMED',
        );
        break;
      }
      entries.push(next);
      used += listEntryBytes(next);
    }
    const message: Message = { type: 'LIST_ENTRIES', ref: round + 1, entries };
    const bytes = encodeMessage(message);
    assert.equal(bytes.length, used, `round ${round}`);
    assert.deepEqual(decodeMessage(bytes), message, `round ${round}`);
  }
});

// One entry in wire order, so each malformed case changes one field of a valid entry.
function entryHex(
  fields: Partial<Record<'kind' | 'mode' | 'size' | 'mtime' | 'path' | 'target', string>>,
): string {
  const f = {
    kind: '01',
    mode: '01a4',
    size: '0000000000000000',
    mtime: '0000000000000000',
    path: '0001 61',
    target: '0000',
    ...fields,
  };
  return `${f.kind} ${f.mode} ${f.size} ${f.mtime} ${f.path} ${f.target}`;
}

const MALFORMED: readonly [string, string, ErrorCode][] = [
  ['a LIST_REQUEST with ref 0', '30 00000000 00 0000', 'MESSAGE_MALFORMED'],
  ['a LIST_REQUEST with reserved flag bits', '30 00000001 08 0000', 'MESSAGE_MALFORMED'],
  ['a LIST_REQUEST path over 4096 bytes', `30 00000001 00 1001 ${'61'.repeat(4097)}`, 'MESSAGE_MALFORMED'],
  ['a LIST_REQUEST without its path', '30 00000001 00', 'MESSAGE_MALFORMED'],
  ['a LIST_REQUEST with a trailing byte', '30 00000001 00 0000 00', 'MESSAGE_MALFORMED'],
  ['a LIST_ENTRIES with ref 0', `31 00000000 0001 ${entryHex({})}`, 'MESSAGE_MALFORMED'],
  ['a LIST_ENTRIES with no entries', '31 00000001 0000', 'MESSAGE_MALFORMED'],
  ['a LIST_ENTRIES with more entries than bytes', `31 00000001 0002 ${entryHex({})}`, 'MESSAGE_MALFORMED'],
  ['a LIST_ENTRIES count of 65535', `31 00000001 ffff ${entryHex({})}`, 'MESSAGE_MALFORMED'],
  ['an entry of kind 0', `31 00000001 0001 ${entryHex({ kind: '00' })}`, 'MESSAGE_MALFORMED'],
  ['an entry of kind 4', `31 00000001 0001 ${entryHex({ kind: '04' })}`, 'MESSAGE_MALFORMED'],
  ['an entry mode above 0o7777', `31 00000001 0001 ${entryHex({ mode: '81a4' })}`, 'MESSAGE_MALFORMED'],
  [
    'an entry size above 2^53-1',
    `31 00000001 0001 ${entryHex({ size: '0020000000000000' })}`,
    'MESSAGE_MALFORMED',
  ],
  [
    'an entry with an empty path',
    `31 00000001 0001 ${entryHex({ kind: '03', path: '0000', target: '0001 62' })}`,
    'MESSAGE_MALFORMED',
  ],
  [
    'an entry path over 4096 bytes',
    `31 00000001 0001 ${entryHex({ path: `1001 ${'61'.repeat(4097)}` })}`,
    'MESSAGE_MALFORMED',
  ],
  [
    'an entry path of invalid utf-8',
    `31 00000001 0001 ${entryHex({ path: '0001 80' })}`,
    'MESSAGE_MALFORMED',
  ],
  ['a file with a linkTarget', `31 00000001 0001 ${entryHex({ target: '0001 62' })}`, 'MESSAGE_MALFORMED'],
  [
    'a directory with a linkTarget',
    `31 00000001 0001 ${entryHex({ kind: '02', target: '0001 62' })}`,
    'MESSAGE_MALFORMED',
  ],
  ['a link without a linkTarget', `31 00000001 0001 ${entryHex({ kind: '03' })}`, 'MESSAGE_MALFORMED'],
  [
    'a link target with a NUL',
    `31 00000001 0001 ${entryHex({ kind: '03', target: '0002 6200' })}`,
    'MESSAGE_MALFORMED',
  ],
  [
    'a link target over 4096 bytes',
    `31 00000001 0001 ${entryHex({ kind: '03', target: `1001 ${'62'.repeat(4097)}` })}`,
    'MESSAGE_MALFORMED',
  ],
  ['a LIST_ENTRIES with a trailing byte', `31 00000001 0001 ${entryHex({})} 00`, 'MESSAGE_MALFORMED'],
  [
    'a LIST_ENTRIES cut inside its last entry',
    `31 00000001 0001 ${entryHex({ target: '00' })}`,
    'MESSAGE_MALFORMED',
  ],
  ['a LIST_END with ref 0', '32 00000000 00000000 00 0000 0000000000000000', 'MESSAGE_MALFORMED'],
  ['a LIST_END over 1,000,000 entries', '32 00000001 000f4241 00 0000 0000000000000000', 'MESSAGE_MALFORMED'],
  ['a LIST_END with an unknown flag', '32 00000001 00000000 02 0000 0000000000000000', 'MESSAGE_MALFORMED'],
  [
    'a LIST_END with a file-type bit in its mode',
    '32 00000001 00000000 00 81a4 0000000000000000',
    'MESSAGE_MALFORMED',
  ],
  [
    'a LIST_END with a trailing byte',
    '32 00000001 00000000 00 0000 0000000000000000 00',
    'MESSAGE_MALFORMED',
  ],
];

for (const [name, hex, code] of MALFORMED) {
  test(`\`decodeMessage\` refuses ${name} with ${code}`, () => {
    assertFerryCode(() => decodeMessage(h(hex)), code);
  });
}

const FILE: ListEntry = { kind: 'file', mode: 0o644, size: 1, mtimeMs: 1, path: 'a', linkTarget: '' };

function entries(...list: ListEntry[]): Message {
  return { type: 'LIST_ENTRIES', ref: 1, entries: list };
}

const REFUSED_ENCODINGS: readonly [string, Message][] = [
  [
    'a LIST_REQUEST with ref 0',
    { type: 'LIST_REQUEST', ref: 0, recursive: false, selfOnly: false, path: '' },
  ],
  [
    'a LIST_REQUEST path over 4096 bytes',
    { type: 'LIST_REQUEST', ref: 1, recursive: false, selfOnly: false, path: 'a'.repeat(4097) },
  ],
  [
    'a LIST_REQUEST path with a lone surrogate',
    { type: 'LIST_REQUEST', ref: 1, recursive: true, selfOnly: false, path: '\udfff' },
  ],
  ['a LIST_ENTRIES without entries', entries()],
  ['a LIST_ENTRIES with ref 0', { type: 'LIST_ENTRIES', ref: 0, entries: [FILE] }],
  ['an entry of unknown kind', entries(FILE, { ...FILE, kind: 'socket' as ListEntry['kind'] })],
  ['an entry with a file type in its mode', entries({ ...FILE, mode: 0o100644 })],
  ['an entry with an empty path', entries({ ...FILE, path: '' })],
  ['an entry path over 4096 bytes', entries({ ...FILE, path: 'a'.repeat(4097) })],
  ['an entry path with a lone surrogate', entries({ ...FILE, path: 'a\ud800' })],
  ['an entry size of 2^53', entries({ ...FILE, size: 2 ** 53 })],
  ['a directory with a linkTarget', entries({ ...FILE, kind: 'dir', linkTarget: 'b' })],
  ['a link without a linkTarget', entries({ ...FILE, kind: 'link' })],
  ['a link target with a NUL', entries({ ...FILE, kind: 'link', linkTarget: '\u0000' })],
  ['a link target over 4096 bytes', entries({ ...FILE, kind: 'link', linkTarget: 'b'.repeat(4097) })],
  [
    'a LIST_END over 1,000,000 entries',
    { type: 'LIST_END', ref: 1, totalEntries: MAX_LIST_ENTRIES + 1, isFile: false, mode: 0, mtimeMs: 0 },
  ],
  [
    'a LIST_END with ref 0',
    { type: 'LIST_END', ref: 0, totalEntries: 0, isFile: false, mode: 0, mtimeMs: 0 },
  ],
];

for (const [name, message] of REFUSED_ENCODINGS) {
  test(`\`encodeMessage\` refuses ${name}`, () => {
    assertFerryCode(() => encodeMessage(message), 'MESSAGE_MALFORMED');
  });
}
