// server-log.ts turns ServerEvents into log lines: a refusal caused by a failed file-system call keeps the
// requested path, the server's own file and the errno in the server's own log (the wire gets the code and
// the coded detail only, PROTOCOL.md §5.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { toFerryError } from '../../src/errors/index.js';
import { ServerEvents } from '../../src/server/server-events.js';
import { logServerEvents } from '../../src/server/server-log.js';

function logged(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

test('a refusal caused by a file-system call is logged with its path, errno and server file, and its transfer as failed', () => {
  const { logger, lines } = logged();
  const events = new ServerEvents({ now: () => 1_000 });
  const detach = logServerEvents(events, logger);
  const session = events.openSession('127.0.0.1:5000');
  session.identified('abcdefghi');
  session.admitted('laptop');
  session.transferStarted(3, {
    direction: 'upload',
    path: 'in/a.bin',
    size: 10,
    heldBytes: 0,
    restarted: false,
  });
  const cause = Object.assign(new Error('eio'), { code: 'EIO', path: '/srv/ferry/in/a.bin' });
  session.operationRefused(3, toFerryError(cause), 'in/a.bin');
  detach();
  session.ended('ok', { filesReceived: 0, bytesReceived: 0, filesSent: 0, bytesSent: 0, durationMs: 5 });

  const refused = lines.find((l) => l['event'] === 'refused');
  assert.equal(refused?.['code'], 'IO_ERROR');
  assert.equal(refused?.['errno'], 'EIO');
  assert.equal(refused?.['file'], '/srv/ferry/in/a.bin');
  assert.equal(refused?.['path'], 'in/a.bin');
  assert.equal(refused?.['ref'], 3);
  assert.equal(refused?.['client'], 'laptop');
  const failed = lines.find((l) => l['event'] === 'transfer-failed');
  assert.equal(failed?.['code'], 'IO_ERROR');
  assert.equal(failed?.['path'], 'in/a.bin');
  assert.equal(
    lines.some((l) => l['event'] === 'session'),
    false,
    'after unsubscribing, nothing more is logged',
  );
});

test('a refusal without a system cause carries no errno, file or path', () => {
  const { logger, lines } = logged();
  const events = new ServerEvents();
  logServerEvents(events, logger);
  const session = events.openSession('127.0.0.1:5000');
  session.identified('abcdefghi');
  session.admitted(undefined);
  session.operationRefused(1, toFerryError(Object.assign(new Error('x'), { name: 'AbortError' })));
  const refused = lines.find((l) => l['event'] === 'refused');
  assert.equal(refused?.['code'], 'ABORTED');
  assert.ok(refused);
  assert.equal('errno' in refused, false);
  assert.equal('file' in refused, false);
  assert.equal('path' in refused, false);
});
