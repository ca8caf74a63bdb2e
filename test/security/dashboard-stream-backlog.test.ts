// The dashboard pushes a whole snapshot to every open event stream (`/events`) up to 4 times a second, and
// wrote each one whatever the viewer had read: a viewer that stops reading (a stalled tab, a suspended laptop,
// a script) made the ferry server's process buffer every snapshot for it, a few MiB each with many live
// transfers or clients, until TCP gave up on the connection. A snapshot replaces the one before, so a stream
// that still holds a backlog now misses the frame (DASHBOARD_STREAM_BACKLOG_BYTES). Real server, real
// dashboard, a real socket that stops reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { Dashboard } from '../../src/web/index.js';
import type { DashboardClient } from '../../src/web/dashboard-state.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

/** Snapshots made while the viewer does not read. */
const PUSHED_WHILE_STALLED = 24;
/** Each snapshot's size, about: the kernel's buffers of one loopback connection hold a few of them. */
const CLIENTS = 4_000;

test('a viewer that stops reading its event stream is not sent every snapshot it missed: the server holds no backlog of them', async (t) => {
  const { server } = await startTempDirServer(t, 'ferry-dashboard-backlog-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
  });
  // Every snapshot lists the clients; the first one's name counts the snapshots, the rest make it ~1 MiB.
  let made = 0;
  let stalledUntil = Infinity;
  let onMade: (() => void) | undefined;
  const padding = 'x'.repeat(200);
  const listClients = (): DashboardClient[] => {
    const n = made++;
    if (n === stalledUntil) onMade?.();
    return Array.from({ length: CLIENTS }, (_, i) => ({
      id: `client-${i}`,
      name: i === 0 ? `snapshot-${n}` : padding,
      permissions: ['upload'],
      root: undefined,
    }));
  };
  const dashboard = await Dashboard.start({ server, port: 0, listClients, sampleIntervalMs: 5 });
  t.after(() => dashboard.close());
  const { host, port } = dashboard.address;
  const socket = connect({ host, port });
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.pause(); // never reads until told to
  const stalledFrom = made;
  stalledUntil = stalledFrom + PUSHED_WHILE_STALLED;
  const stalled = new Promise<void>((resolve) => (onMade = resolve));
  socket.write(`GET /events?token=${dashboard.token} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  await stalled;
  // Read what was kept for the viewer, up to the first snapshot made after it read again.
  const seen: number[] = [];
  let text = '';
  const caughtUp = new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      // The stream is chunked (HTTP/1.1): each snapshot's counter is found wherever it lies in the bytes.
      text += chunk.toString('latin1');
      const marker = /"name":"snapshot-(\d+)"/g;
      let match: RegExpExecArray | null;
      let last = 0;
      while ((match = marker.exec(text)) !== null) {
        const n = Number(match[1]);
        seen.push(n);
        last = marker.lastIndex;
        if (n >= stalledUntil) resolve();
      }
      text = text.slice(Math.max(last, text.length - 64));
    });
  });
  socket.resume();
  await caughtUp;
  const missed = seen.filter((n) => n < stalledUntil);
  assert.ok(
    missed.length <= PUSHED_WHILE_STALLED / 2,
    `the stalled viewer got ${missed.length} of the ${PUSHED_WHILE_STALLED} snapshots made meanwhile: ${seen.join(' ')}`,
  );
  assert.ok(missed.length >= 1, 'it got the first snapshot');
});
