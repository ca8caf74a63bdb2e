import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../src/cli/logger.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

test('log lines carry names from the other side exact as JSON, with no raw control, C1 or bidi character', async (t) => {
  const dir = await makeTempDir('ferry-logger-');
  t.after(() => removeTempDir(dir));
  const logFile = join(dir, 'server.log');
  const logger = createLogger({ logFile }, { role: 'server', defaultLevel: 'info' });
  const remotePath = 'inbox/invoice\u202efdp.exe\u009b2J\u2066\u007f\u001b[2J';
  logger.info({ event: 'transfer-finished', remotePath }, 'upload verified');
  logger.info({ event: 'transfer-finished', remotePath: 'plain.txt' }, 'upload verified');
  const text = await readFile(logFile, 'utf8');
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 2, 'one line per entry: line breaks are untouched');
  assert.doesNotMatch(text.replace(/\n/g, ''), /[\p{Cc}\p{Cf}]/u);
  assert.equal((JSON.parse(lines[0]!) as { remotePath: string }).remotePath, remotePath);
});
