import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DashboardState } from '../../src/web/index.js';
import type { ServerEvent, ServerTransfer } from '../../src/server/index.js';

const MIB = 1024 * 1024;
const CLIENT_ID = 'abcdefghi-jklmnopqr-stuvwxyz2-34567abcd-efghijklm-nopqrstuv';

function transfer(ref: number, size: number): ServerTransfer {
  return {
    sessionId: 1,
    address: '127.0.0.1:5000',
    peerId: 'abcdefghi',
    clientId: CLIENT_ID,
    clientName: 'laptop',
    transferId: `1:${ref}`,
    ref,
    direction: 'upload',
    path: `in/file-${ref}`,
    size,
    startedAt: 1_000,
  };
}

function stateWith(events: ServerEvent[]): DashboardState {
  const state = new DashboardState({ id: 'server', address: '127.0.0.1:7443', startedAt: 0 });
  for (const event of events) state.apply(event);
  return state;
}

test('DashboardState shows an upload cut by the network as interrupted with the bytes held, a refused one as failed', () => {
  const cut = transfer(1, 8 * MIB);
  const refused = transfer(2, MIB);
  const state = stateWith([
    { type: 'transfer-started', time: 1_000, transfer: cut, heldBytes: 0, restarted: false },
    { type: 'progress', time: 1_500, transfer: cut, verifiedBytes: 3 * MIB },
    { type: 'transfer-failed', time: 2_000, transfer: cut, code: 'CONNECTION_CLOSED' },
    { type: 'transfer-started', time: 2_000, transfer: refused, heldBytes: 0, restarted: false },
    { type: 'transfer-failed', time: 2_100, transfer: refused, code: 'QUOTA_EXCEEDED' },
  ]);
  const snapshot = state.snapshot(3_000, { clients: [] });
  const [quota, interrupted] = snapshot.recent;
  assert.deepEqual(
    [interrupted!.outcome, interrupted!.heldBytes, interrupted!.code],
    ['interrupted', 3 * MIB, 'CONNECTION_CLOSED'],
  );
  assert.deepEqual([quota!.outcome, quota!.code], ['failed', 'QUOTA_EXCEEDED']);
  assert.deepEqual([snapshot.totals.failed, snapshot.totals.interrupted], [1, 1]);
});

test('DashboardState labels a transfer that started from held bytes as resumed, live and once finished', () => {
  const resumed = transfer(1, 8 * MIB);
  const state = stateWith([
    { type: 'transfer-started', time: 1_000, transfer: resumed, heldBytes: 3 * MIB, restarted: false },
  ]);
  assert.equal(state.snapshot(1_500, { clients: [] }).live[0]!.resumedFromBytes, 3 * MIB);
  state.apply({
    type: 'transfer-finished',
    time: 2_000,
    transfer: resumed,
    digest: 'ab'.repeat(32),
    transferredBytes: 5 * MIB,
    identical: false,
    durationMs: 1_000,
  });
  const [done] = state.snapshot(2_500, { clients: [] }).recent;
  assert.deepEqual([done!.outcome, done!.resumedFromBytes], ['finished', 3 * MIB]);
});

test("DashboardState marks a delta as one, never as resumed: the bytes held at its start are the old file's", () => {
  const delta = { ...transfer(1, 8 * MIB), delta: true };
  const state = stateWith([
    { type: 'transfer-started', time: 1_000, transfer: delta, heldBytes: 7 * MIB, restarted: false },
  ]);
  const [live] = state.snapshot(1_500, { clients: [] }).live;
  assert.deepEqual([live!.delta, live!.resumedFromBytes], [true, 0]);
  state.apply({
    type: 'transfer-finished',
    time: 2_000,
    transfer: delta,
    digest: 'ab'.repeat(32),
    transferredBytes: MIB,
    identical: false,
    durationMs: 1_000,
  });
  const [done] = state.snapshot(2_500, { clients: [] }).recent;
  assert.deepEqual([done!.outcome, done!.delta, done!.resumedFromBytes], ['finished', true, 0]);
});

test("DashboardState averages the file's speed, not one stream's: with --streams 4 the session carried a quarter", () => {
  const file = transfer(1, 8 * MIB);
  const state = stateWith([
    { type: 'transfer-started', time: 1_000, transfer: file, heldBytes: 0, restarted: false },
    {
      type: 'transfer-finished',
      time: 3_000,
      transfer: file,
      digest: 'ab'.repeat(32),
      transferredBytes: 2 * MIB, // the primary session's share; three joined streams carried the rest
      identical: false,
      durationMs: 2_000,
    },
  ]);
  assert.equal(state.snapshot(3_000, { clients: [] }).recent[0]!.bytesPerSecond, 4 * MIB);
});

test('DashboardState lists refused connections with the full client ID, and passes invites and storage through', () => {
  const state = stateWith([
    {
      type: 'session-refused',
      time: 5_000,
      sessionId: 3,
      address: '127.0.0.1:6000',
      peerId: 'abcdefghi',
      clientId: CLIENT_ID,
      clientName: undefined,
      code: 'CLIENT_NOT_ALLOWED',
      filesReceived: 0,
      bytesReceived: 0,
      filesSent: 0,
      bytesSent: 0,
      durationMs: 3,
    },
  ]);
  const invites = [
    { id: 'xyz', name: 'phone', permissions: ['upload'], expiresAt: '2030-01-01T00:00:00.000Z' },
  ];
  const storage = { root: '/srv/ferry', freeBytes: 123 };
  const snapshot = state.snapshot(6_000, { clients: [], invites, storage });
  assert.deepEqual(snapshot.refused, [
    { time: 5_000, address: '127.0.0.1:6000', clientId: CLIENT_ID, code: 'CLIENT_NOT_ALLOWED' },
  ]);
  assert.deepEqual(snapshot.invites, invites);
  assert.deepEqual(snapshot.storage, storage);
  assert.ok(!JSON.stringify(snapshot).includes('"code":"xyz'), 'an invite carries no code field');
});

test("DashboardState lists a sync's removals and attribute-only updates among the recent rows, and counts them", () => {
  const peer = {
    sessionId: 2,
    address: '127.0.0.1:5000',
    peerId: 'abcdefghi',
    clientId: CLIENT_ID,
    clientName: 'laptop',
  };
  const state = stateWith([
    { type: 'entry-removed', time: 1_000, ref: 7, path: 'mirror/old', kind: 'dir', ...peer },
    {
      type: 'attributes-set',
      time: 1_100,
      ref: 8,
      path: 'mirror/keep.txt',
      mode: 0o600,
      mtimeMs: 1_700_000_000_000,
      ...peer,
    },
  ]);
  const snapshot = state.snapshot(2_000, { clients: [] });
  const [attributes, removed] = snapshot.recent;
  assert.deepEqual(
    [removed!.id, removed!.outcome, removed!.path, removed!.client, removed!.change],
    ['2:7', 'removed', 'mirror/old', 'laptop', { kind: 'removed', entry: 'dir' }],
  );
  assert.deepEqual(
    [attributes!.outcome, attributes!.change],
    ['attributes-set', { kind: 'attributes-set', mode: 0o600, mtimeMs: 1_700_000_000_000 }],
  );
  assert.deepEqual(
    [
      snapshot.totals.removed,
      snapshot.totals.attributesSet,
      snapshot.totals.finished,
      snapshot.totals.failed,
    ],
    [1, 1, 0, 0],
  );
});
