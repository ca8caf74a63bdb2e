// An allowed client's refused requests cost it nothing and wrote one warning line each: one session asking
// for missing files in a loop made a real `ferry serve` log 1,700 lines (390 KB) a second, about 34 GB a day,
// past --client-quota and the disk reserve, which do not count the log. Now each client key logs its first
// REFUSAL_LOG_BURST refusals and then REFUSAL_LOG_PER_SECOND, each session says once that it counts the rest,
// and its session line gives the count; reconnecting buys no fresh burst. Real server on loopback, raw
// admitted sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/crypto/index.js';
import type { SecureChannel } from '../../src/channel/index.js';
import { HASH_BYTES, PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { REFUSAL_LOG_BURST } from '../../src/server/refusal-log-budget.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { RecordedLog } from '../helpers/recorded-log.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

/** Asks for `count` missing files, pipelined 200 at a time (the protocol allows 256, PROTOCOL.md §10). */
async function askForMissingFiles(session: SecureChannel, count: number): Promise<void> {
  const none = Buffer.alloc(HASH_BYTES);
  const asked = { chunkBytes: 1 << 22, verifyOnly: false, heldSize: 0, ranges: [], haveDigest: none };
  for (let sent = 0, answered = 0; answered < count; answered++) {
    while (sent < count && sent - answered < 200)
      await session.send({ type: 'GET_REQUEST', ref: ++sent, ...asked, path: `missing-${sent}.bin` });
    await receiveMessage(session, 'ERROR');
  }
}

test('a client`s flood of refused requests logs its burst, a notice a session and a count, not a line each', async (t) => {
  const log = new RecordedLog();
  const { server } = await startTempDirServer(t, 'ferry-refusal-log-flood-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    logger: log.logger,
  });
  const key = generateKeyPair();
  const session = await openAdmittedSession(t, server.address, key);
  await askForMissingFiles(session, 1000);
  session.close();
  await log.waitFor('session', 1);
  const refused = log.count('refused');
  // The test ran for seconds at most: the burst and a few a second more.
  assert.ok(refused >= REFUSAL_LOG_BURST && refused < REFUSAL_LOG_BURST + 100, `${refused} refusals logged`);
  assert.equal(log.count('refusals-not-logged'), 1);
  const closing = log.entries.filter((e) => e['event'] === 'session');
  assert.equal(closing[0]?.['refusalsNotLogged'], 1000 - refused);

  // The same key again: its budget is the client's, not the session's.
  const next = await openAdmittedSession(t, server.address, key);
  await askForMissingFiles(next, 200);
  next.close();
  await log.waitFor('session', 2);
  const refusedAgain = log.count('refused') - refused;
  assert.ok(refusedAgain < 100, `${refusedAgain} refusals of the second session logged`);
  assert.equal(log.count('refusals-not-logged'), 2);
  assert.equal(
    log.entries.filter((e) => e['event'] === 'session')[1]?.['refusalsNotLogged'],
    200 - refusedAgain,
  );
});
