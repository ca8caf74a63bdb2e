import { test } from 'node:test';
import assert from 'node:assert/strict';
import picocolors from 'picocolors';
import { formatLogLines, prettyLogStream } from '../../src/cli/pretty-log-stream.js';
import { visibleWidth } from '../../src/cli/progress-line.js';

/** `ferry serve`'s first record (src/server: the listening line), at a fixed time. */
const LISTENING = JSON.stringify({
  level: 30,
  time: Date.UTC(2026, 0, 1, 7, 22, 40),
  role: 'server',
  event: 'listening',
  id: 'gbvsotlgz-scn3ok4x6-xwmbaiios-fx4daawtu-hdwvyihnf-da2f4iqgi',
  address: '127.0.0.1:7443',
  msg: 'server ready',
});

test('formatLogLines wraps a record to the width between its fields, each whole, later lines under the message', () => {
  const [oneLine] = formatLogLines(LISTENING);
  const time = oneLine!.slice(0, 8);
  // Without a width (what a terminal got before): one line of 107 columns, broken by an 80-column terminal
  // inside the id.
  assert.equal(
    oneLine,
    `${time} INFO  server ready  event=listening id=gbvsotlgz-scn3ok4x6-xwmbaiios-fx4daawtu-hdwvyihnf-da2f4iqgi address=127.0.0.1:7443`,
  );
  const indent = ' '.repeat(15);
  assert.deepEqual(formatLogLines(LISTENING, undefined, 79), [
    `${time} INFO  server ready  event=listening`,
    `${indent}id=gbvsotlgz-scn3ok4x6-xwmbaiios-fx4daawtu-hdwvyihnf-da2f4iqgi`,
    `${indent}address=127.0.0.1:7443`,
  ]);
  // Wide enough: the line as before, byte for byte.
  assert.deepEqual(formatLogLines(LISTENING, undefined, 200), [oneLine]);
  // Fields share a continuation line while they fit; one wider than a line of its own gets one, whole.
  assert.deepEqual(formatLogLines(LISTENING, undefined, 40), [
    `${time} INFO  server ready`,
    `${indent}event=listening`,
    `${indent}id=gbvsotlgz-scn3ok4x6-xwmbaiios-fx4daawtu-hdwvyihnf-da2f4iqgi`,
    `${indent}address=127.0.0.1:7443`,
  ]);
  const small = JSON.stringify({ level: 40, time: 0, msg: 'retrying', code: 'X', attempt: 2, delayMs: 250 });
  const lines = formatLogLines(small, undefined, 36);
  assert.deepEqual(lines.slice(1), [`${indent}attempt=2 delayMs=250`]);
  for (const line of lines) assert.ok(line.length <= 36, line);
});

test('formatLogLines measures colored lines by what shows, not by their escape codes', () => {
  const colors = picocolors.createColors(true);
  const lines = formatLogLines(LISTENING, colors, 79);
  assert.equal(lines.length, 3);
  for (const line of lines) assert.ok(visibleWidth(line) <= 79, line);
});

test('prettyLogStream hands each wrapped line on by itself, to the width it reads at each record', () => {
  const written: string[] = [];
  let width: number | undefined = 79;
  const stream = prettyLogStream(
    (line) => written.push(line),
    picocolors.createColors(false),
    () => width,
  );
  stream.write(`${LISTENING}\n`);
  width = undefined;
  stream.write(`${LISTENING}\n`);
  assert.equal(written.length, 4);
  for (const line of written) assert.ok(!line.includes('\n'), line);
  assert.ok(written[3]!.endsWith('address=127.0.0.1:7443'));
});
