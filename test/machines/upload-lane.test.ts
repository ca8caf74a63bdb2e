// The session-level rules of a server session (PROTOCOL.md §5.1, §5.8, §5.9, §6.1, §6.2), driven by message
// bytes: every message is encoded and decoded by the real codecs before the lane sees it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, isFerryError } from '../../src/errors/index.js';
import { decodeMessage, encodeMessage, type Message } from '../../src/protocol/index.js';
import { UPLOAD_LANE_TRANSITIONS, UploadLane, stepOf, type LaneRoute } from '../../src/machines/index.js';

/** The message as the server decodes it from the wire. */
function fromBytes(message: Message): Message {
  return decodeMessage(encodeMessage(message));
}

const hash = Buffer.alloc(32, 7);

const wire = {
  offer: (ref: number): Message => ({
    type: 'PUT_OFFER',
    ref,
    size: 5,
    mtimeMs: 1_700_000_000_000,
    chunkBytes: 1 << 20,
    mode: 0o644,
    overwrite: false,
    fresh: false,
    path: `f${ref}`,
  }),
  data: (ref: number): Message => ({ type: 'PUT_DATA', ref, offset: 0, data: Buffer.from('hello') }),
  chunk: (ref: number): Message => ({ type: 'PUT_CHUNK', ref, index: 0, chunkHash: hash }),
  end: (ref: number): Message => ({ type: 'PUT_END', ref, fileDigest: hash }),
  cancel: (ref: number): Message => ({ type: 'CANCEL', ref }),
  error: (ref: number): Message => ({
    type: 'ERROR',
    ref,
    code: ERROR_CODES.SOURCE_CHANGED.wire,
    detail: 'changed while sent',
  }),
  get: (ref: number): Message => ({
    type: 'GET_REQUEST',
    ref,
    chunkBytes: 1 << 20,
    verifyOnly: false,
    heldSize: 0,
    haveDigest: Buffer.alloc(32),
    ranges: [],
    path: `g${ref}`,
  }),
  list: (ref: number): Message => ({
    type: 'LIST_REQUEST',
    ref,
    recursive: false,
    selfOnly: false,
    path: '',
  }),
  dir: (ref: number): Message => ({ type: 'PUT_DIR', ref, mode: 0o755, mtimeMs: 0, path: `d${ref}` }),
  link: (ref: number): Message => ({
    type: 'PUT_LINK',
    ref,
    overwrite: false,
    mtimeMs: 0,
    target: 'f1',
    path: `l${ref}`,
  }),
};

function route(lane: UploadLane, message: Message): LaneRoute {
  return lane.route(fromBytes(message));
}

function refusedAsUnexpected(lane: UploadLane, message: Message, detail: RegExp): void {
  assert.throws(
    () => lane.route(fromBytes(message)),
    (err: unknown) => isFerryError(err, 'MESSAGE_UNEXPECTED') && detail.test(err.message),
  );
}

test('UploadLane routes an upload offer, its data, chunk and end to the upload receiver, and is open again after PUT_END', () => {
  const lane = new UploadLane();
  assert.equal(route(lane, wire.offer(1)), 'offer');
  assert.equal(lane.state, 'uploading');
  assert.equal(lane.openRef, 1);
  assert.equal(route(lane, wire.data(1)), 'upload');
  assert.equal(route(lane, wire.chunk(1)), 'upload');
  assert.equal(route(lane, wire.end(1)), 'upload');
  assert.equal(lane.state, 'open');
  assert.equal(lane.openRef, undefined);
});

test('UploadLane refuses a PUT_OFFER while an upload is open with MESSAGE_UNEXPECTED (§6.2: one upload at a time)', () => {
  const lane = new UploadLane();
  lane.route(fromBytes(wire.offer(1)));
  refusedAsUnexpected(lane, wire.offer(2), /PUT_OFFER while transfer 1 is open/);
  // The table agrees: it has no PUT_OFFER row in `uploading`.
  assert.throws(
    () => stepOf(UPLOAD_LANE_TRANSITIONS, 'uploading', 'PUT_OFFER'),
    /PUT_OFFER in state uploading/,
  );
});

test('UploadLane refuses data, chunks and ends of a ref that is not the open upload (MESSAGE_UNEXPECTED, values named)', () => {
  const idle = new UploadLane();
  refusedAsUnexpected(idle, wire.data(3), /PUT_DATA for ref 3, which is not open/);
  refusedAsUnexpected(idle, wire.end(3), /PUT_END for ref 3, which is not open/);
  const busy = new UploadLane();
  busy.route(fromBytes(wire.offer(1)));
  refusedAsUnexpected(busy, wire.chunk(2), /PUT_CHUNK for ref 2, which is not open/);
  // After its PUT_END, a ref is over: more data for it is a protocol error, not a new upload.
  busy.route(fromBytes(wire.end(1)));
  refusedAsUnexpected(busy, wire.data(1), /PUT_DATA for ref 1, which is not open/);
});

test('UploadLane discards the pipelined data of a refused offer until its PUT_END, then forgets the ref (§5.8)', () => {
  const lane = new UploadLane();
  lane.route(fromBytes(wire.offer(1)));
  assert.deepEqual(lane.operationFailed(1), { closeUpload: true });
  assert.equal(lane.state, 'open');
  assert.equal(lane.discards(1), true);
  assert.equal(route(lane, wire.data(1)), 'discard');
  assert.equal(route(lane, wire.chunk(1)), 'discard');
  assert.equal(route(lane, wire.end(1)), 'discard');
  assert.equal(lane.discards(1), false);
  refusedAsUnexpected(lane, wire.data(1), /which is not open/);
});

test('UploadLane forgets every discarded ref at the next PUT_OFFER, so a client that never ends them leaves nothing behind', () => {
  const lane = new UploadLane();
  for (const ref of [1, 2, 3]) {
    lane.route(fromBytes(wire.offer(ref)));
    lane.operationFailed(ref);
  }
  // The last refused ref is still discarded until the client moves on.
  assert.equal(route(lane, wire.data(3)), 'discard');
  assert.equal(route(lane, wire.offer(4)), 'offer');
  for (const ref of [1, 2, 3]) assert.equal(lane.discards(ref), false);
});

test('UploadLane sends a failed PUT_END, download, listing or tree entry an ERROR without discarding anything', () => {
  const lane = new UploadLane();
  lane.route(fromBytes(wire.offer(1)));
  lane.route(fromBytes(wire.end(1)));
  // A finish that fails (DIGEST_MISMATCH, FILE_EXISTS) ends a ref whose last message already arrived.
  assert.deepEqual(lane.operationFailed(1), { closeUpload: false });
  assert.equal(lane.discards(1), false);
  lane.route(fromBytes(wire.offer(2)));
  for (const ref of [5, 6, 7]) {
    assert.deepEqual(lane.operationFailed(ref), { closeUpload: false });
    assert.equal(lane.discards(ref), false);
  }
  assert.equal(lane.state, 'uploading');
  assert.equal(lane.openRef, 2);
});

test('UploadLane ends the open upload on the client`s CANCEL or ERROR for its ref (§5.1, §5.9)', () => {
  for (const end of [wire.cancel, wire.error]) {
    const lane = new UploadLane();
    lane.route(fromBytes(wire.offer(1)));
    assert.equal(route(lane, end(1)), 'end-upload');
    assert.equal(lane.state, 'open');
    assert.equal(route(lane, wire.offer(2)), 'offer');
  }
});

test('UploadLane ignores a client`s ERROR or CANCEL for a ref that is not open (§5.1), and refuses an ERROR with ref 0', () => {
  const lane = new UploadLane();
  lane.route(fromBytes(wire.offer(1)));
  assert.equal(route(lane, wire.error(9)), 'discard');
  assert.equal(route(lane, wire.cancel(9)), 'discard');
  assert.equal(lane.state, 'uploading');
  refusedAsUnexpected(lane, wire.error(0), /ERROR with ref 0 from a client/);
  refusedAsUnexpected(new UploadLane(), wire.error(0), /ERROR with ref 0 from a client/);
});

test('UploadLane refuses a message that only a server sends (MESSAGE_UNEXPECTED)', () => {
  refusedAsUnexpected(
    new UploadLane(),
    { type: 'WELCOME', permissions: 3, maxFileBytes: 0 },
    /WELCOME from a client/,
  );
  refusedAsUnexpected(new UploadLane(), { type: 'ACK', ref: 1 }, /ACK from a client/);
  refusedAsUnexpected(
    new UploadLane(),
    { type: 'GET_END', ref: 1, fileDigest: hash },
    /GET_END from a client/,
  );
});

test('UploadLane routes downloads, listings and tree entries in either state without touching the open upload', () => {
  const lane = new UploadLane();
  assert.equal(route(lane, wire.get(1)), 'download');
  assert.equal(route(lane, wire.list(2)), 'listing');
  assert.equal(route(lane, wire.dir(3)), 'tree');
  assert.equal(route(lane, wire.link(4)), 'tree');
  assert.equal(lane.state, 'open');
  lane.route(fromBytes(wire.offer(5)));
  assert.equal(route(lane, wire.get(6)), 'download');
  assert.equal(route(lane, wire.list(7)), 'listing');
  assert.equal(route(lane, wire.dir(8)), 'tree');
  assert.equal(route(lane, wire.link(9)), 'tree');
  assert.equal(lane.state, 'uploading');
  assert.equal(lane.openRef, 5);
  assert.equal(lane.openDownloads, 2);
});

test('UploadLane turns a CANCEL of a queued or running download into a stop, once; after the download ended it is ignored (§5.9)', () => {
  const lane = new UploadLane();
  lane.route(fromBytes(wire.get(1)));
  lane.route(fromBytes(wire.get(2)));
  assert.equal(route(lane, wire.cancel(1)), 'cancel-download');
  assert.equal(route(lane, wire.cancel(1)), 'discard');
  lane.downloadEnded(2);
  assert.equal(route(lane, wire.cancel(2)), 'discard');
  assert.equal(lane.openDownloads, 0);
});

test('UploadLane ends an upload taken over by another session at once: later messages of its ref are discarded and a failure of the step under way sends no second ERROR (§6.2)', () => {
  const lane = new UploadLane();
  lane.route(fromBytes(wire.offer(1)));
  lane.route(fromBytes(wire.data(1)));
  assert.equal(lane.takenOver(1), true);
  assert.equal(lane.state, 'open');
  // The session checks this before it reports a failure of the step that was running meanwhile.
  assert.equal(lane.discards(1), true);
  assert.equal(route(lane, wire.data(1)), 'discard');
  assert.equal(route(lane, wire.chunk(1)), 'discard');
  assert.equal(route(lane, wire.end(1)), 'discard');
  assert.equal(route(lane, wire.offer(2)), 'offer');
});

test('UploadLane says a takeover of a ref that is not the open upload needs no ERROR (finished, or already ended)', () => {
  const lane = new UploadLane();
  assert.equal(lane.takenOver(1), false);
  lane.route(fromBytes(wire.offer(1)));
  lane.route(fromBytes(wire.end(1)));
  assert.equal(lane.takenOver(1), false);
  lane.route(fromBytes(wire.offer(2)));
  assert.equal(lane.takenOver(1), false);
  assert.equal(lane.openRef, 2);
});

test('UPLOAD_LANE_TRANSITIONS has one row per state and event, and every next state is a state of the table or closed', () => {
  const keys = UPLOAD_LANE_TRANSITIONS.map((row) => `${row.state} / ${row.event}`);
  assert.equal(new Set(keys).size, keys.length);
  const states = new Set<string>(UPLOAD_LANE_TRANSITIONS.map((row) => row.state));
  assert.deepEqual([...states].sort(), ['open', 'uploading']);
  for (const row of UPLOAD_LANE_TRANSITIONS)
    assert.ok(states.has(row.next) || row.next === 'closed', `${row.state} / ${row.event} -> ${row.next}`);
});

test('UploadLane refuses a KEEPALIVE from the client in either state (MESSAGE_UNEXPECTED, §5.18: server to client only)', () => {
  const lane = new UploadLane();
  refusedAsUnexpected(lane, { type: 'KEEPALIVE' }, /KEEPALIVE from a client/);
  lane.route(fromBytes(wire.offer(1)));
  refusedAsUnexpected(lane, { type: 'KEEPALIVE' }, /KEEPALIVE from a client/);
});

test('UploadLane queues GET_BATCHes with the downloads in either state and refuses a third unanswered one (§5.20)', () => {
  const lane = new UploadLane();
  const batch = (ref: number): Message => ({ type: 'GET_BATCH', ref, paths: ['a', 'b'] });
  assert.equal(route(lane, batch(1)), 'download');
  route(lane, wire.offer(2));
  assert.equal(route(lane, batch(3)), 'download');
  assert.equal(lane.state, 'uploading');
  refusedAsUnexpected(lane, batch(4), /GET_BATCH with 2 unanswered/);
  // Answered (or failed): room for the next; a CANCEL stops a queued one like a download.
  const answered = new UploadLane();
  route(answered, batch(1));
  route(answered, batch(2));
  answered.downloadEnded(1);
  assert.equal(route(answered, batch(3)), 'download');
  answered.operationFailed(2);
  assert.equal(route(answered, batch(4)), 'download');
  assert.equal(route(answered, wire.cancel(4)), 'cancel-download');
  assert.equal(answered.openDownloads, 1);
});
