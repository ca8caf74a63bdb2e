import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocolSection } from '../helpers/protocol-doc.js';
import { ERROR_CODES, type ErrorSpec } from '../../src/errors/index.js';
import {
  MESSAGE_TYPE_CODES,
  PAIR_MESSAGE_BYTES,
  PAIR_MESSAGE_TYPE_CODES,
  RECORD_LAYER_TYPE_CODES,
} from '../../src/protocol/index.js';

// docs/PROTOCOL.md is normative; these tests keep its tables and the code's tables from drifting apart.

/** The cells of every table row in `text` whose first cell matches `firstCell`. */
function rows(text: string, firstCell: RegExp): string[][] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .slice(1, line.lastIndexOf('|'))
        .split('|')
        .map((cell) => cell.trim()),
    )
    .filter((cells) => firstCell.test(cells[0] ?? ''));
}

// Pairing messages (PROTOCOL.md §12.4) are listed in §5 too; their codes are PAIR_MESSAGE_TYPE_CODES, beside
// MESSAGE_TYPE_CODES in protocol/, as only a pairing exchange decodes them; so is REKEY, which the record layer
// consumes (§4.3, RECORD_LAYER_TYPE_CODES). A name or code in both is an error.
function codeTables(): [string, number][] {
  const merged = new Map<string, number>(Object.entries(MESSAGE_TYPE_CODES));
  for (const [name, code] of [
    ...Object.entries(PAIR_MESSAGE_TYPE_CODES),
    ...Object.entries(RECORD_LAYER_TYPE_CODES),
  ]) {
    assert.equal(merged.get(name) ?? code, code, `${name} has two codes`);
    merged.set(name, code);
  }
  return [...merged].sort(([a], [b]) => a.localeCompare(b));
}

function documentedTypes(heading: string): [string, number][] {
  const fromDoc = rows(protocolSection(heading), /^0x[0-9a-f]{2}$/i).map(
    ([code, name]) => [name as string, Number.parseInt(code as string, 16)] as [string, number],
  );
  assert.equal(
    new Set(fromDoc.map(([name]) => name)).size,
    fromDoc.length,
    `a name appears twice in ${heading}`,
  );
  assert.equal(
    new Set(fromDoc.map(([, code]) => code)).size,
    fromDoc.length,
    `a code appears twice in ${heading}`,
  );
  return fromDoc.sort(([a], [b]) => a.localeCompare(b));
}

test('the message table of PROTOCOL.md §5 names exactly the types and codes of the code', () => {
  assert.deepEqual(documentedTypes('## 5. Messages'), codeTables());
});

test('the pairing table of PROTOCOL.md §12.4 names exactly the codes of PAIR_MESSAGE_TYPE_CODES', () => {
  assert.deepEqual(
    documentedTypes('### 12.4'),
    Object.entries(PAIR_MESSAGE_TYPE_CODES).sort(([a], [b]) => a.localeCompare(b)),
  );
});

test('the pairing layouts of PROTOCOL.md §12.4 give each message the length of PAIR_MESSAGE_BYTES', () => {
  const layouts = [
    ...protocolSection('### 12.4').matchAll(/^(PAIR_[A-Z]+) +0x([0-9a-f]{2}) .* (\d+) bytes$/gm),
  ].map(([, name, code, bytes]) => [name, Number.parseInt(code as string, 16), Number(bytes)]);
  assert.deepEqual(
    layouts,
    Object.entries(PAIR_MESSAGE_BYTES).map(([name, bytes]) => [
      name,
      PAIR_MESSAGE_TYPE_CODES[name as keyof typeof PAIR_MESSAGE_TYPE_CODES],
      bytes,
    ]),
  );
});

test('the error table of PROTOCOL.md §8 lists exactly the wire codes of ERROR_CODES', () => {
  const table = rows(protocolSection('## 8. Error codes'), /^0x[0-9a-f]{4}$/i);
  const fromDoc = table.map(([wire, code, retryable]) => {
    assert.ok(retryable === 'yes' || retryable === 'no', `§8 ${code}: retryable is ${retryable}`);
    return { code, wire: Number.parseInt(wire as string, 16), retryable: retryable === 'yes' };
  });
  const fromCode = (Object.entries(ERROR_CODES) as [string, ErrorSpec][])
    .filter(([, spec]) => spec.wire !== null)
    .map(([code, spec]) => ({ code, wire: spec.wire, retryable: spec.retryable }));
  const byWire = (a: { wire: number | null }, b: { wire: number | null }): number =>
    (a.wire ?? 0) - (b.wire ?? 0);
  assert.deepEqual(fromDoc.sort(byWire), fromCode.sort(byWire));
});

test('the PROTOCOL.md table parser finds the rows it is meant to', () => {
  // Guards the two tests above against passing on an empty parse.
  assert.ok(rows(protocolSection('## 5. Messages'), /^0x/).length >= 20);
  assert.ok(rows(protocolSection('## 8. Error codes'), /^0x/).length >= 15);
});
