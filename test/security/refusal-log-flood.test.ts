// An allowed client's refused requests cost it nothing and wrote one warning line each: one session asking
// for missing files in a loop made a real `ferry serve` log 1,700 lines (390 KB) a second, about 34 GB a day,
// past --client-quota and the disk reserve, which do not count the log. Now each session logs its first
// REFUSAL_LOG_BURST refusals and then REFUSAL_LOG_PER_SECOND, says once that it counts the rest, and its
// session line gives the count. Real server on loopback, raw admitted session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/crypto/index.js';
import { HASH_BYTES, PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { REFUSAL_LOG_BURST } from '../../src/server/refusal-log-budget.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { RecordedLog } from '../helpers/recorded-log.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const REQUESTS = 1000;

test('a session`s flood of refused requests logs its burst, one notice and a count, not a line each', async (t) => {
  const log = new RecordedLog();
  const { server } = await startTempDirServer(t, 'ferry-refusal-log-flood-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    logger: log.logger,
  });
  const session = await openAdmittedSession(t, server.address, generateKeyPair());
  const none = Buffer.alloc(HASH_BYTES);
  const asked = { chunkBytes: 1 << 22, verifyOnly: false, heldSize: 0, ranges: [], haveDigest: none };
  // Pipelined 200 at a time (the protocol's bound is 256 unanswered, PROTOCOL.md §10).
  for (let sent = 0, answered = 0; answered < REQUESTS; answered++) {
    while (sent < REQUESTS && sent - answered < 200)
      await session.send({ type: 'GET_REQUEST', ref: ++sent, ...asked, path: `missing-${sent}.bin` });
    assert.equal((await receiveMessage(session, 'ERROR')).code > 0, true);
  }
  session.close();
  await log.waitFor('session', 1);
  const refused = log.count('refused');
  const closing = log.entries.find((e) => e['event'] === 'session');
  // The test ran for seconds at most: the burst and a few a second more.
  assert.ok(refused >= REFUSAL_LOG_BURST && refused < REFUSAL_LOG_BURST + 200, `${refused} refusals logged`);
  assert.equal(log.count('refusals-not-logged'), 1);
  assert.equal(closing?.['refusalsNotLogged'], REQUESTS - refused);
});
