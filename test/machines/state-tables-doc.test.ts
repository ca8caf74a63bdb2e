// PROTOCOL.md §6 shows each machine's transition table; these tests keep it equal to the table the machine
// steps through (src/machines/transition.ts `stepOf`), so the spec's state machines cannot drift from the code.
// One test per machine, each in its own block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocolSection } from '../helpers/protocol-doc.js';
import type { Transition } from '../../src/machines/index.js';
import {
  BATCH_RECEIVER_TRANSITIONS,
  DELTA_BLOCKS_TRANSITIONS,
  DELTA_SIGNATURE_TRANSITIONS,
  GET_BATCH_RECEIVER_TRANSITIONS,
  UPLOAD_LANE_TRANSITIONS,
} from '../../src/machines/index.js';
import { RECEIVER_TRANSITIONS } from '../../src/machines/index.js';
import { DOWNLOAD_SENDER_TRANSITIONS, UPLOAD_SENDER_TRANSITIONS } from '../../src/machines/index.js';
import { ENTRY_TRANSITIONS, LISTING_TRANSITIONS } from '../../src/machines/index.js';
import {
  PAIRING_CLIENT_TRANSITIONS,
  PAIRING_SERVER_TRANSITIONS,
} from '../../src/machines/pairing-exchange.js';

/**
 * The `state | event | next` triples of the first table under `heading` (columns found by their header
 * names, in any order; backticks dropped), sorted, one string each.
 */
function documentedTransitions(heading: string): string[] {
  const table = protocolSection(heading)
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .slice(1, line.lastIndexOf('|'))
        .split('|')
        .map((cell) => cell.trim().replaceAll('`', '')),
    );
  const [header, , ...body] = table;
  assert.ok(header, `no table under ${heading}`);
  const column = (name: string): number => {
    const at = header.indexOf(name);
    assert.ok(at >= 0, `the table under ${heading} has no column ${name}`);
    return at;
  };
  const [state, event, next] = [column('state'), column('event'), column('next')];
  return body.map((cells) => `${cells[state]} | ${cells[event]} | ${cells[next]}`).sort();
}

/** The same triples from a machine's table. */
function codeTransitions(table: readonly Transition[]): string[] {
  const rows = table.map(({ state, event, next }) => `${state} | ${event} | ${next}`);
  assert.equal(new Set(rows).size, rows.length, 'a transition appears twice');
  return rows.sort();
}

test('PROTOCOL.md §6.1 shows exactly the transitions of the server session (UPLOAD_LANE_TRANSITIONS)', () => {
  assert.deepEqual(documentedTransitions('### 6.1'), codeTransitions(UPLOAD_LANE_TRANSITIONS));
});

test('PROTOCOL.md §6.2 shows exactly the transitions of the receiver machine (RECEIVER_TRANSITIONS)', () => {
  assert.deepEqual(documentedTransitions('### 6.2'), codeTransitions(RECEIVER_TRANSITIONS));
});

test('PROTOCOL.md §6.3 and §6.4 show exactly the transitions of the sender machines (UPLOAD_SENDER_TRANSITIONS, DOWNLOAD_SENDER_TRANSITIONS)', () => {
  assert.deepEqual(documentedTransitions('### 6.3'), codeTransitions(UPLOAD_SENDER_TRANSITIONS));
  assert.deepEqual(documentedTransitions('### 6.4'), codeTransitions(DOWNLOAD_SENDER_TRANSITIONS));
});

test('PROTOCOL.md §6.5 shows exactly the transitions of the listing machine (LISTING_TRANSITIONS)', () => {
  assert.deepEqual(documentedTransitions('### 6.5 Listing'), codeTransitions(LISTING_TRANSITIONS));
});

test('PROTOCOL.md §6.6 shows exactly the transitions of a PUT_DIR or PUT_LINK (ENTRY_TRANSITIONS)', () => {
  assert.deepEqual(documentedTransitions('### 6.6 Directory entries'), codeTransitions(ENTRY_TRANSITIONS));
});

test('PROTOCOL.md §6.7 shows exactly the transitions of pairing on the server (PAIRING_SERVER_TRANSITIONS)', () => {
  assert.deepEqual(
    documentedTransitions('### 6.7 Pairing on the server'),
    codeTransitions(PAIRING_SERVER_TRANSITIONS),
  );
});

test('PROTOCOL.md §6.8 shows exactly the transitions of pairing on the client (PAIRING_CLIENT_TRANSITIONS)', () => {
  assert.deepEqual(
    documentedTransitions('### 6.8 Pairing on the client'),
    codeTransitions(PAIRING_CLIENT_TRANSITIONS),
  );
});

test('PROTOCOL.md §6.9 shows exactly the transitions of batches on the server (BATCH_RECEIVER_TRANSITIONS)', () => {
  assert.deepEqual(
    documentedTransitions('### 6.9 Batches on the server'),
    codeTransitions(BATCH_RECEIVER_TRANSITIONS),
  );
});

test('PROTOCOL.md §6.10 shows exactly the transitions of the delta signature on the client (DELTA_BLOCKS_TRANSITIONS)', () => {
  assert.deepEqual(
    documentedTransitions('### 6.10 Delta signature on the client'),
    codeTransitions(DELTA_BLOCKS_TRANSITIONS),
  );
});

test('PROTOCOL.md §6.11 shows exactly the transitions of the delta download signature (DELTA_SIGNATURE_TRANSITIONS)', () => {
  assert.deepEqual(documentedTransitions('### 6.11'), codeTransitions(DELTA_SIGNATURE_TRANSITIONS));
});

test('PROTOCOL.md §6.12 shows exactly the transitions of a batched download on the client (GET_BATCH_RECEIVER_TRANSITIONS)', () => {
  assert.deepEqual(
    documentedTransitions('### 6.12 Batched download on the client'),
    codeTransitions(GET_BATCH_RECEIVER_TRANSITIONS),
  );
});
