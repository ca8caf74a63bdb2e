// ProgressReporter's logger (issue 14): made only when something is logged, so a client run without log flags
// never loads pino; the level is still checked when the reporter is made, before anything connects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProgressReporter } from '../../src/cli/progress-reporter.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

test('a reporter refuses an unknown --log-level when it is made, before the transfer starts', () => {
  assert.throws(() => new ProgressReporter({ quiet: true, logLevel: 'loud' }, { verb: 'sent' }), {
    code: 'USAGE_INVALID',
  });
});

test('a reporter with --log-file writes the transfer events and the closing line to it', async (t) => {
  const dir = await makeTempDir('ferry-reporter-');
  t.after(() => removeTempDir(dir));
  const logFile = join(dir, 'client.log');
  const reporter = new ProgressReporter({ quiet: true, logFile }, { verb: 'sent' });
  const result = await reporter.run(() => {
    reporter.onEvent({ type: 'retrying', attempt: 2, delayMs: 5, code: 'STALLED', message: 'm' });
    return Promise.resolve(7);
  });
  assert.equal(result, 7);
  const events = (await readFile(logFile, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { event: string }).event);
  assert.deepEqual(events, ['retrying', 'done']);
});

test('a reporter without log flags logs nothing and still runs the transfer and its events', async () => {
  const reporter = new ProgressReporter({ quiet: true }, { verb: 'sent' });
  const result = await reporter.run(() => {
    reporter.onEvent({ type: 'retrying', attempt: 2, delayMs: 5, code: 'STALLED', message: 'm' });
    reporter.onSkip('a/b', 'special file');
    return Promise.resolve('ok');
  });
  assert.equal(result, 'ok');
});
