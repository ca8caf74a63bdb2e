import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TransferEvent } from '../../src/index.js';
import { JSON_EVENTS_VERSION, summaryJsonEvent, toJsonEvent } from '../../src/cli/json-events.js';

const subject = { direction: 'download', file: '/tmp/x/a.bin', remotePath: 'a.bin' } as const;

test('toJsonEvent gives every event v:1, its type and time, and plain JSON values (hex digests, no buffers)', () => {
  const events: TransferEvent[] = [
    { type: 'session-opened', serverPublicKey: Buffer.alloc(32, 1), serverId: 'srv-id', attempt: 1 },
    { type: 'transfer-started', ...subject, size: 10, heldBytes: 4, restarted: false },
    { type: 'transfer-resumed', ...subject, size: 10, fromBytes: 4 },
    { type: 'progress', ...subject, verifiedBytes: 8, size: 10 },
    { type: 'stalled', attempt: 1, message: 'no bytes moved for 30000 ms' },
    { type: 'retrying', attempt: 2, delayMs: 500, code: 'STALLED', message: 'stalled' },
    {
      type: 'transfer-finished',
      ...subject,
      size: 10,
      digest: Buffer.alloc(32, 0xcd),
      transferredBytes: 6,
      resumedBytes: 4,
      restarted: false,
      identical: false,
    },
    { type: 'transfer-failed', ...subject, code: 'DIGEST_MISMATCH', message: 'bad' },
    { type: 'entry-created', kind: 'dir', remotePath: 'd' },
    { type: 'entry-skipped', path: 'l', reason: 'symbolic link points outside the tree' },
  ];
  for (const event of events) {
    const line = JSON.stringify(toJsonEvent(event, 1234));
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.equal(parsed['v'], JSON_EVENTS_VERSION);
    assert.equal(parsed['type'], event.type);
    assert.equal(parsed['time'], 1234);
    assert.doesNotMatch(line, /"Buffer"/, `${event.type} leaks a Buffer`);
  }
  assert.deepEqual(toJsonEvent(events[0]!, 1), {
    v: 1,
    type: 'session-opened',
    time: 1,
    server: 'srv-id',
    attempt: 1,
  });
  assert.equal(toJsonEvent(events[6]!, 1)['digest'], 'cd'.repeat(32));
  assert.deepEqual(toJsonEvent(events[3]!, 1), {
    v: 1,
    type: 'progress',
    time: 1,
    direction: 'download',
    file: '/tmp/x/a.bin',
    remotePath: 'a.bin',
    verifiedBytes: 8,
    size: 10,
  });
});

test('summaryJsonEvent says whether the run succeeded, and with which code it failed', () => {
  const summary = {
    files: 1,
    identical: 0,
    failed: 1,
    bytes: 10,
    transferredBytes: 6,
    resumedBytes: 4,
    durationMs: 20,
    digest: undefined,
    storedFiles: [{ file: 'x', remotePath: 'd/x' }],
    identicalFiles: [],
    failedFiles: [{ file: 'y', remotePath: 'd/y', code: 'FILE_EXISTS' as const, message: 'file exists' }],
  };
  assert.deepEqual(summaryJsonEvent(summary, { ok: false, code: 'FILE_EXISTS', message: 'file exists' }, 5), {
    v: 1,
    type: 'summary',
    time: 5,
    ok: false,
    code: 'FILE_EXISTS',
    message: 'file exists',
    files: 1,
    identical: 0,
    failed: 1,
    bytes: 10,
    transferredBytes: 6,
    resumedBytes: 4,
    durationMs: 20,
    storedFiles: [{ file: 'x', remotePath: 'd/x' }],
    identicalFiles: [],
    failedFiles: [{ file: 'y', remotePath: 'd/y', code: 'FILE_EXISTS', message: 'file exists' }],
  });
});
