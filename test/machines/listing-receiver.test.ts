// The listing machine (PROTOCOL.md §5.12, §6.5, §10) driven with message bytes only: every message is encoded
// with the real codec and decoded again, as it would leave the wire. No socket, no file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFerryError } from '../../src/errors/index.js';
import { ListingReceiver, ListingTally, type ListingState } from '../../src/machines/index.js';
import {
  MAX_LIST_BYTES,
  MAX_LIST_ENTRIES,
  decodeMessage,
  encodeMessage,
  listEntryBytes,
  type ListEntry,
  type Message,
} from '../../src/protocol/index.js';

const REF = 5;

/** `message` as it arrives: encoded with the real codec and decoded again. */
const wire = (message: Message): Message => decodeMessage(encodeMessage(message));

const file = (path: string, size = 3): ListEntry => ({
  kind: 'file',
  mode: 0o644,
  size,
  mtimeMs: 1_700_000_000_000,
  path,
  linkTarget: '',
});
const entries = (list: ListEntry[]): Message => wire({ type: 'LIST_ENTRIES', ref: REF, entries: list });
const end = (totalEntries: number, isFile = false): Message =>
  wire({ type: 'LIST_END', ref: REF, totalEntries, isFile, mode: 0o755, mtimeMs: 1_600_000_000_000 });

function requested(options: { recursive?: boolean; selfOnly?: boolean } = {}): ListingReceiver {
  const listing = new ListingReceiver();
  const request = wire(listing.request(REF, 'docs', { recursive: options.recursive ?? true, ...options }));
  assert.deepEqual(request, {
    type: 'LIST_REQUEST',
    ref: REF,
    recursive: options.recursive ?? true,
    selfOnly: options.selfOnly ?? false,
    path: 'docs',
  });
  return listing;
}

const unexpected =
  (event: string, state: ListingState) =>
  (err: unknown): boolean =>
    isFerryError(err, 'MESSAGE_UNEXPECTED') && err.detail === `${event} in state ${state}`;

test('`ListingReceiver` keeps the entries of every LIST_ENTRIES and returns them with LIST_END (§5.12)', () => {
  const listing = requested();
  assert.equal(listing.receive(entries([file('a'), file('b')])), undefined);
  assert.equal(listing.state, 'listing');
  assert.equal(listing.receive(entries([file('c')])), undefined);
  assert.deepEqual(listing.receive(end(3)), {
    entries: [file('a'), file('b'), file('c')],
    isFile: false,
    mode: 0o755,
    mtimeMs: 1_600_000_000_000,
  });
  assert.equal(listing.state, 'ended');
  const empty = requested();
  assert.deepEqual(empty.receive(end(0))?.entries, [], 'an empty directory: LIST_END alone');
});

test('`ListingReceiver` refuses a LIST_END whose count differs from the entries received (MESSAGE_MALFORMED)', () => {
  for (const totalEntries of [1, 3]) {
    const listing = requested();
    listing.receive(entries([file('a'), file('b')]));
    assert.throws(
      () => listing.receive(end(totalEntries)),
      (err) =>
        isFerryError(err, 'MESSAGE_MALFORMED') &&
        err.detail === `list_end counts ${totalEntries} entries, 2 were sent`,
    );
  }
  assert.throws(
    () => requested().receive(end(1)),
    (err) => isFerryError(err, 'MESSAGE_MALFORMED'),
  );
});

test('`ListingReceiver` refuses the first entry beyond MAX_LIST_ENTRIES, before keeping it (MESSAGE_MALFORMED)', () => {
  const listing = requested();
  const batch = entries(Array.from({ length: 2000 }, (_, i) => file(`f${i}`)));
  for (let sent = 0; sent < MAX_LIST_ENTRIES; sent += 2000) listing.receive(batch);
  assert.throws(
    () => listing.receive(entries([file('one-more')])),
    (err) =>
      isFerryError(err, 'MESSAGE_MALFORMED') && err.detail === `listing exceeds ${MAX_LIST_ENTRIES} entries`,
  );
});

test('`ListingReceiver` refuses entries beyond MAX_LIST_BYTES, however few they are (MESSAGE_MALFORMED)', () => {
  const listing = requested();
  const big = file('p'.repeat(4000));
  const perMessage = 16;
  const batch = entries(Array.from({ length: perMessage }, () => big));
  const fitting = Math.floor(MAX_LIST_BYTES / listEntryBytes(big));
  let received = 0;
  for (; received + perMessage <= fitting; received += perMessage) listing.receive(batch);
  assert.ok(received < MAX_LIST_ENTRIES / 10, 'far fewer entries than the entry cap');
  assert.throws(
    () => listing.receive(batch),
    (err) =>
      isFerryError(err, 'MESSAGE_MALFORMED') &&
      err.detail === `listing exceeds ${MAX_LIST_BYTES} bytes of entries`,
  );
});

test('`ListingReceiver` refuses a message out of order with MESSAGE_UNEXPECTED "<type> in state <state>" (§6.5)', () => {
  assert.throws(() => new ListingReceiver().receive(end(0)), unexpected('LIST_END', 'idle'));
  const self = requested({ selfOnly: true });
  assert.throws(() => self.receive(entries([file('a')])), unexpected('LIST_ENTRIES', 'self-requested'));
  const done = requested();
  done.receive(end(0));
  assert.throws(() => done.receive(entries([file('a')])), unexpected('LIST_ENTRIES', 'ended'));
  assert.throws(() => done.receive(end(0)), unexpected('LIST_END', 'ended'));
  const listing = requested();
  listing.receive(entries([file('a')]));
  assert.throws(() => listing.receive(wire({ type: 'ACK', ref: REF })), unexpected('ACK', 'listing'));
  assert.throws(
    () => listing.request(REF, 'again', { recursive: false }),
    unexpected('LIST_REQUEST', 'listing'),
  );
});

test('`ListingReceiver` answers SELF_ONLY with the path itself: LIST_END alone, totalEntries 0 (§5.12)', () => {
  const self = requested({ recursive: false, selfOnly: true });
  assert.deepEqual(self.receive(end(0, true)), {
    entries: [],
    isFile: true,
    mode: 0o755,
    mtimeMs: 1_600_000_000_000,
  });
  assert.throws(
    () => requested({ selfOnly: true }).receive(end(2)),
    (err) => isFerryError(err, 'MESSAGE_MALFORMED'),
  );
});

test('`ListingTally` is one limit for both sides: the server refuses its own listing past it as FILE_TOO_LARGE', () => {
  const server = new ListingTally('FILE_TOO_LARGE');
  const entry = file('f');
  for (let i = 0; i < MAX_LIST_ENTRIES; i++) assert.equal(server.add(entry), listEntryBytes(entry));
  assert.equal(server.entries, MAX_LIST_ENTRIES);
  assert.throws(
    () => server.add(entry),
    (err) =>
      isFerryError(err, 'FILE_TOO_LARGE') && err.detail === `listing exceeds ${MAX_LIST_ENTRIES} entries`,
  );
  assert.equal(server.entries, MAX_LIST_ENTRIES, 'the refused entry is not counted');
});
