// A failed attempt's work still in flight (a pipelined run's other downloads or uploads, handed to
// `ClientSession.leaveRunning`) settles before `withRetries` retries or throws, so nothing of the attempt still
// writes once the caller hears of the failure. Found by the client-sync fuzz target: a sync down failed with
// its session while another download of the run still wrote into DST, and the caller's `rm -r` of DST failed
// with ENOTEMPTY. Here the work left running ends only once the server saw the session close (an event that
// needs a turn of the event loop after the close): the failure must come after it. (A retry waits at the same
// place, before its backoff; its new connection takes turns enough that an order test of it could not fail.)
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { FerryError } from '../../src/errors/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { withRetries } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

async function rig(t: TestContext) {
  const { server } = await startTempDirServer(t, 'ferry-left-running-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
  });
  const connect = {
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
  };
  /** Resolves once the server saw the next admitted session close. */
  const closed = (): Promise<unknown> => once(server.events, 'session-closed');
  return { connect, closed };
}

test('a failed attempt throws only once the work it left running has settled', async (t) => {
  const { connect, closed } = await rig(t);
  const order: string[] = [];
  await assert.rejects(
    withRetries(
      { ...connect, retry: { retries: 0 } },
      () => undefined,
      (session) => {
        session.leaveRunning([closed().then(() => order.push('work left running settled'))]);
        return Promise.reject(new FerryError('DISK_FULL', 'no room on this machine'));
      },
    ).finally(() => order.push('failure reported')),
    (err: FerryError) => err.code === 'DISK_FULL',
  );
  assert.deepEqual(order, ['work left running settled', 'failure reported']);
});
