// SET_ATTRIBUTES of a file with the mode and mtime it already has succeeded and logged `attributes-set`
// each time: one session with the upload permission repeating it made a real `ferry serve` write 1,660
// lines (410 KB) a second, which no quota and no refusal budget counted (docs/SECURITY.md, "Findings of the
// stop 42 pass"). A change that changes nothing is now acknowledged but neither logged nor published; each
// real change still is, so an honest sync's record stays complete. Real server on loopback, a raw session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { RecordedLog } from '../helpers/recorded-log.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const MTIME_MS = 1_600_000_000_123;

test('repeating SET_ATTRIBUTES of a file that has them already logs the one change, not a line each', async (t) => {
  const log = new RecordedLog();
  const { server } = await startTempDirServer(t, 'ferry-attributes-log-flood-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    logger: log.logger,
  });
  const published: string[] = [];
  server.events.on('attributes-set', () => published.push('attributes-set'));
  await writeFile(join(server.root, 'file.txt'), 'content\n');
  await chmod(join(server.root, 'file.txt'), 0o644);
  const session = await openAdmittedSession(t, server.address, generateKeyPair());
  // The first changes the mode and mtime; the 499 after it change nothing.
  for (let ref = 1; ref <= 500; ref++) {
    await session.send({ type: 'SET_ATTRIBUTES', ref, mode: 0o600, mtimeMs: MTIME_MS, path: 'file.txt' });
    await receiveMessage(session, 'ACK');
  }
  // A real change after them is recorded again.
  await session.send({ type: 'SET_ATTRIBUTES', ref: 501, mode: 0o640, mtimeMs: MTIME_MS, path: 'file.txt' });
  await receiveMessage(session, 'ACK');
  session.close();
  await log.waitFor('session', 1);
  const after = await stat(join(server.root, 'file.txt'));
  assert.equal(after.mode & 0o7777, 0o640);
  assert.equal(Math.floor(after.mtimeMs), MTIME_MS);
  assert.equal(log.count('attributes-set'), 2, 'the two changes logged, the 499 no-ops not');
  assert.equal(published.length, 2);
});
