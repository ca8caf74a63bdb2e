import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { TransferEvent } from '../../src/index.js';
import { displayModeOf } from '../../src/cli/display-mode.js';
import { formatBarLine } from '../../src/cli/format-bar-line.js';
import { ProgressDisplay } from '../../src/cli/progress-display.js';
import { colorsFor } from '../../src/cli/terminal-colors.js';
import { TransferTally } from '../../src/cli/progress-tally.js';
import { averageRate, MIN_RATE_BYTES, SpeedMeter } from '../../src/cli/progress-speed.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { getFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

// eslint-disable-next-line no-control-regex -- looking for escape codes is the point
const ESCAPE = /\x1b\[/;
const DIGEST = Buffer.alloc(32, 0xab);
// eslint-disable-next-line no-control-regex -- the display's own cursor and colour sequences
const OWN_CSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** A stream that records what is written; `isTTY` as asked. */
function sink(isTTY: boolean): {
  stream: Writable & { isTTY?: boolean; columns?: number };
  text: () => string;
} {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  stream.isTTY = isTTY;
  stream.columns = 120;
  return { stream, text: () => text };
}

/** A resumed upload of one 1 MiB file, verified, as the client library reports it. */
function resumedUpload(): TransferEvent[] {
  const subject = { direction: 'upload', file: 'photos/cat.jpg', remotePath: 'inbox/cat.jpg' } as const;
  const size = 1024 * 1024;
  return [
    { type: 'session-opened', serverPublicKey: Buffer.alloc(32), serverId: 'abc', attempt: 1 },
    { type: 'transfer-started', ...subject, size, heldBytes: 262144, restarted: false },
    { type: 'transfer-resumed', ...subject, size, fromBytes: 262144 },
    { type: 'progress', ...subject, verifiedBytes: 524288, size },
    { type: 'retrying', attempt: 2, delayMs: 500, code: 'CONNECTION_CLOSED', message: 'connection closed' },
    { type: 'progress', ...subject, verifiedBytes: size, size },
    {
      type: 'transfer-finished',
      ...subject,
      size,
      digest: DIGEST,
      transferredBytes: size - 262144,
      resumedBytes: 262144,
      restarted: false,
      identical: false,
    },
  ];
}

function show(mode: 'bars' | 'lines' | 'quiet', isTTY: boolean, env: NodeJS.ProcessEnv = {}): string {
  const { stream, text } = sink(isTTY);
  let now = 0;
  const clock = (): number => (now += 250);
  const display = new ProgressDisplay({ mode, stream, colors: colorsFor(stream, env), now: clock });
  const tally = new TransferTally(clock);
  for (const event of resumedUpload()) {
    tally.add(event);
    display.handle(event);
  }
  display.close(tally.summary(), 'sent');
  return text();
}

test('displayModeOf draws bars only on a terminal that can, and nothing with --quiet', () => {
  assert.equal(displayModeOf({ isTTY: true }, { env: {} }), 'bars');
  assert.equal(displayModeOf({ isTTY: false }, { env: {} }), 'lines');
  assert.equal(displayModeOf({}, { env: {} }), 'lines');
  assert.equal(displayModeOf({ isTTY: true }, { env: { TERM: 'dumb' } }), 'lines');
  assert.equal(displayModeOf({ isTTY: true }, { quiet: true, env: {} }), 'quiet');
});

test('ProgressDisplay off a terminal prints plain lines: the retry, the file with its digest, a summary; no escape codes', () => {
  const text = show('lines', false, { FORCE_COLOR: '1', CI: 'true' });
  assert.doesNotMatch(text, ESCAPE);
  assert.deepEqual(text.trimEnd().split('\n'), [
    'ferry: CONNECTION_CLOSED: retrying in 0.5 s (attempt 2)',
    `photos/cat.jpg -> inbox/cat.jpg (1.00 MiB, resumed from 256 KiB) digest ${'ab'.repeat(8)}`,
    `sent 1 file, 1.00 MiB in 250 ms, 768 KiB of it on the wire at 3.00 MiB/s, 256 KiB resumed, digest ${'ab'.repeat(8)}`,
  ]);
});

test('ProgressDisplay counts identical files apart in its summary: nothing of them was sent', () => {
  const { stream, text } = sink(false);
  let now = 0;
  const clock = (): number => (now += 250);
  const display = new ProgressDisplay({ mode: 'lines', stream, colors: colorsFor(stream, {}), now: clock });
  const tally = new TransferTally(clock);
  const finished = (file: string, identical: boolean): TransferEvent => ({
    type: 'transfer-finished',
    direction: 'upload',
    file,
    remotePath: file,
    size: 10,
    digest: DIGEST,
    transferredBytes: identical ? 0 : 10,
    resumedBytes: 0,
    restarted: false,
    identical,
  });
  for (const event of [finished('a', true), finished('b', true), finished('c', false)]) {
    tally.add(event);
    display.handle(event);
  }
  display.close(tally.summary(), 'sent');
  const summary = text().trimEnd().split('\n').at(-1)!;
  assert.match(summary, /^sent 1 of 3 files, 30 B in .*, 2 already identical, left as they were/);
});

test('ProgressDisplay on a terminal draws a bar with bytes, percent, speed and ETA, and says when it resumes', () => {
  const text = show('bars', true);
  assert.match(text, ESCAPE, 'a terminal gets cursor control');
  assert.match(text, /inbox\/cat\.jpg +.*50% +512 KiB \/ 1\.00 MiB/, 'bar: name, percent, bytes');
  assert.match(text, /KiB\/s/, 'bar: speed');
  assert.match(text, /ETA \d+s|ETA <1s/, 'bar: ETA');
  assert.match(text, /resuming from 256 KiB/);
  assert.match(text, /retrying in 0\.5 s/);
  assert.match(text, /sent 1 file/);
});

test('ProgressDisplay on a terminal with NO_COLOR set uses no colour, only cursor control', () => {
  const text = show('bars', true, { NO_COLOR: '1' });
  // eslint-disable-next-line no-control-regex -- SGR colour codes
  assert.doesNotMatch(text, /\x1b\[(3\d|9\d|1|2|22|39)m/);
});

test('ProgressDisplay with --quiet prints nothing', () => {
  assert.equal(show('quiet', true), '');
});

/** Read through a function so TypeScript does not keep the narrowing from an earlier assertion. */
function rateOf(meter: SpeedMeter): number {
  return meter.bytesPerSecond ?? Number.NaN;
}

test('SpeedMeter smooths the rate and estimates the time left', () => {
  const meter = new SpeedMeter();
  assert.equal(meter.bytesPerSecond, undefined);
  meter.observe(0, 0);
  meter.observe(100_000, 1000);
  assert.equal(meter.bytesPerSecond, 100_000);
  meter.observe(500_000, 2000); // a burst of 400 000 B/s moves the estimate part of the way
  const rate = rateOf(meter);
  assert.ok(rate > 100_000 && rate < 400_000, `smoothed: ${rate}`);
  assert.equal(meter.etaSeconds(rate * 10), 10);
});

test('SpeedMeter gives no rate and no ETA until MIN_RATE_BYTES were done since its first observation', () => {
  // 6 B verified 1.2 s after the start: "5 B/s" in the bar, which read as the link's speed.
  const tiny = new SpeedMeter();
  tiny.observe(0, 0);
  tiny.observe(6, 1200);
  assert.equal(tiny.bytesPerSecond, undefined);
  assert.equal(tiny.etaSeconds(100), undefined);
  // A resumed file's held part is not done by this run: the rate waits for the bytes moved since.
  const resumed = new SpeedMeter();
  resumed.observe(10 * MIN_RATE_BYTES, 0);
  resumed.observe(10 * MIN_RATE_BYTES + MIN_RATE_BYTES - 1, 1000);
  assert.equal(resumed.bytesPerSecond, undefined);
  resumed.observe(11 * MIN_RATE_BYTES, 1001);
  assert.ok(rateOf(resumed) > 0);
});

test('averageRate is undefined below MIN_RATE_BYTES or without time, else the average over the whole duration', () => {
  assert.equal(averageRate(6, 28), undefined);
  assert.equal(averageRate(MIN_RATE_BYTES - 1, 1000), undefined);
  assert.equal(averageRate(MIN_RATE_BYTES, 0), undefined);
  assert.equal(averageRate(MIN_RATE_BYTES, 500), MIN_RATE_BYTES * 2);
});

/** A download whose names and messages a hostile server chose: escape sequences, C1 CSI, a bidi override. */
function hostileDownload(): TransferEvent[] {
  const subject = {
    direction: 'download',
    file: '/home/me/dl/\u202egpj.exe',
    remotePath: 'x\u001b[2J\u009b31m\u202egpj.exe',
  } as const;
  return [
    { type: 'transfer-started', ...subject, size: 10, heldBytes: 0, restarted: false },
    { type: 'transfer-resumed', ...subject, size: 10, fromBytes: 5 },
    { type: 'progress', ...subject, verifiedBytes: 5, size: 10 },
    { type: 'stalled', attempt: 1, message: 'no record for 30 s\u001b]0;owned\u0007' },
    { type: 'entry-skipped', path: 'tree/\u001b[1Aall files verified', reason: 'exists' },
    { type: 'transfer-failed', ...subject, code: 'DIGEST_MISMATCH', message: 'all verified\u001b[2K\u2066' },
    { type: 'transfer-started', ...subject, size: 10, heldBytes: 0, restarted: false },
    {
      type: 'transfer-finished',
      ...subject,
      size: 10,
      digest: DIGEST,
      transferredBytes: 10,
      resumedBytes: 0,
      restarted: false,
      identical: false,
    },
  ];
}

test('ProgressDisplay shows names and messages from the other side escaped, with no raw control, C1 or bidi character, in bars and in lines', () => {
  for (const [mode, isTTY] of [
    ['bars', true],
    ['lines', false],
  ] as const) {
    const { stream, text } = sink(isTTY);
    let now = 0;
    const display = new ProgressDisplay({
      mode,
      stream,
      colors: colorsFor(stream, {}),
      now: () => (now += 250),
    });
    for (const event of hostileDownload()) display.handle(event);
    display.note('ferry: skipped local/\u009bname: name cannot be sent');
    display.close();
    // The display's own cursor and colour codes are the only escape sequences allowed.
    const foreign = text()
      .replace(OWN_CSI, '')
      .replace(/[\r\n]/g, '');
    assert.doesNotMatch(foreign, /[\p{Cc}\u202a-\u202e\u2066-\u2069\u200e\u200f]/u, mode);
    assert.match(text(), /x\\x1B\[2J\\x9B31m\\u202Egpj\.exe/, `${mode}: the name, visibly escaped`);
    assert.match(text(), /skipped tree\/\\x1B\[1Aall files verified/, mode);
    assert.match(text(), /local\/\\x9Bname/, mode);
  }
});

// eslint-disable-next-line no-control-regex -- escape codes are stripped to measure what a terminal shows
const CONTROL = /\x1b\[[0-9;?]*[a-zA-Z]/g;

/** What each drawn row shows: output split at line breaks and cursor moves, escape codes removed. */
function rows(text: string): string[] {
  return text
    .split(/\r?\n|\r|\x1b\[\d*[GKABJ]/) // eslint-disable-line no-control-regex -- cursor moves end a row
    .map((row) => row.replace(CONTROL, ''))
    .filter((row) => row.trim() !== '');
}

const LONG = 'a/very/long/directory/name/that/goes/on/and/on/for/ever/and/ever/photo-0001.jpg';

/** A tree of three 1 MiB files with long names: one verified, one refused, one in flight; then a stall. */
function treeEvents(): TransferEvent[] {
  const subject = (i: number) =>
    ({
      direction: 'upload',
      file: `/home/user/pictures/${LONG}${i}`,
      remotePath: `inbox/${LONG}${i}`,
    }) as const;
  const size = 1024 * 1024;
  const events: TransferEvent[] = [
    { type: 'planned', files: 3, bytes: 3 * size },
    { type: 'session-opened', serverPublicKey: Buffer.alloc(32), serverId: 'abc', attempt: 1 },
  ];
  for (let i = 0; i < 3; i++) {
    events.push({ type: 'transfer-started', ...subject(i), size, heldBytes: 0, restarted: false });
    events.push({ type: 'progress', ...subject(i), verifiedBytes: size / 2, size });
  }
  events.push(
    {
      type: 'transfer-finished',
      ...subject(0),
      size,
      digest: DIGEST,
      transferredBytes: size,
      resumedBytes: 0,
      restarted: false,
      identical: false,
    },
    {
      type: 'transfer-failed',
      ...subject(1),
      code: 'FILE_EXISTS',
      message: 'destination exists; use --overwrite to replace it',
    },
    { type: 'entry-skipped', path: `album/${LONG}-link`, reason: 'symbolic link points outside the tree' },
    // 81 columns on one line: wrapped between words above the bars.
    {
      type: 'stalled',
      attempt: 1,
      message: 'no progress within the stall timeout: no bytes moved for 30000 ms',
    },
  );
  return events;
}

function showTree(columns: number, fileLines: boolean): string {
  const { stream, text } = sink(true);
  stream.columns = columns;
  let now = 0;
  const clock = (): number => (now += 250);
  const display = new ProgressDisplay({
    mode: 'bars',
    stream,
    colors: colorsFor(stream, {}),
    now: clock,
    fileLines,
  });
  const tally = new TransferTally(clock);
  for (const event of treeEvents()) {
    tally.add(event);
    display.handle(event);
  }
  display.close(tally.summary(), 'sent');
  return text();
}

test('ProgressDisplay at 80 columns keeps every bar and line above the bars narrower than the terminal, shortening paths and never the digest', () => {
  const text = showTree(80, true);
  const drawn = rows(text.slice(0, text.lastIndexOf('sent 1 file')));
  assert.ok(drawn.length > 5, text);
  for (const row of drawn)
    assert.ok(Array.from(row).length < 80, `${Array.from(row).length} columns: ${row}`);
  const finished = drawn.find((row) => row.startsWith('✓ '))!;
  assert.match(finished, /^✓ …\S*-0001\.jpg0 \(1\.00 MiB, sent\) digest abababababababab$/);
  assert.ok(
    drawn.some((row) => /^✗ ….*photo-0001\.jpg1 FILE_EXISTS: destination/.test(row)),
    text,
  );
});

test('formatBarLine fits every width from 20 to 200 columns and keeps the percent', () => {
  const c = colorsFor({ isTTY: true }, {});
  const fields = { name: LONG, progress: 0.42, value: 440_000, total: 1_048_576, speed: 123_456, eta: 5 };
  for (let width = 20; width <= 200; width++) {
    const line = formatBarLine(fields, width, c).replace(CONTROL, '');
    assert.ok(Array.from(line).length <= width, `width ${width}: ${line}`);
    assert.match(line, / 42%/, `width ${width}: ${line}`);
  }
  assert.match(
    formatBarLine(fields, 79, c).replace(CONTROL, ''),
    /ETA 5s/,
    'a standard terminal shows the ETA',
  );
});

test('ProgressDisplay for a tree draws one overall bar of files and bytes above the file bars, and lines only for failed and skipped files', () => {
  const text = showTree(100, false);
  const drawn = rows(text);
  assert.ok(
    drawn.some((row) => /^0\/3 files +\S+ +16% +512 KiB \/ 3\.00 MiB/.test(row)),
    text,
  );
  assert.ok(
    drawn.some((row) => /^1\/3 files /.test(row)),
    'the overall bar counts a verified file',
  );
  assert.ok(!drawn.some((row) => row.startsWith('✓ ') && row.includes('->')), 'no line per verified file');
  assert.ok(
    drawn.some((row) => row.startsWith('✗ ')),
    'a line for the failed file',
  );
  assert.ok(
    drawn.some((row) => row.startsWith('ferry: skipped …') && row.includes('-link')),
    'a line for the skipped entry',
  );
  const closing = text.slice(text.lastIndexOf('sent 1 file')).replace(CONTROL, '').trimEnd().split('\n');
  assert.match(closing[0]!, /^sent 1 file, .*, 1 failed, digest abababababababab$/);
  assert.match(closing[1]!, /^✗ not sent: .*photo-0001\.jpg1 FILE_EXISTS$/);
});

test('TransferTally counts time from the first authenticated session, so a trust prompt is not in the speed', () => {
  let now = 0;
  const tally = new TransferTally(() => now);
  now = 30_000; // the user read the trust prompt for 30 s; the session opens once they said yes
  tally.add({ type: 'session-opened', serverPublicKey: Buffer.alloc(32), serverId: 'abc', attempt: 1 });
  now = 32_000;
  tally.add({ type: 'session-opened', serverPublicKey: Buffer.alloc(32), serverId: 'abc', attempt: 2 });
  now = 34_000;
  assert.equal(tally.summary().durationMs, 4_000);
});

test('ProgressDisplay draws the overall bar for a download of a tree: getFiles -r announces it with a planned event', async (t) => {
  const dir = await makeTempDir('ferry-display-get-');
  const client = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: (key) => (key.equals(client.publicKey) ? { permissions: PERMISSION_DOWNLOAD } : undefined),
    partialSweepIntervalMs: 0,
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  const size = 3 * 4096 + 5;
  await mkdir(join(server.root, 'album', 'sub'), { recursive: true });
  for (const f of ['one', 'two', 'sub/three']) await writeRandomFile(join(server.root, 'album', f), size);
  const events: TransferEvent[] = [];
  await getFiles({
    server: server.address,
    identity: client,
    verifyServer: () => undefined,
    remotePaths: ['album'],
    localDir: join(dir, 'dest'),
    recursive: true,
    chunkBytes: 64 * 1024,
    onEvent: (event) => events.push(event),
  });
  const planned = events.findIndex((e) => e.type === 'planned');
  assert.deepEqual(events[planned], { type: 'planned', files: 3, bytes: 3 * size });
  assert.ok(planned < events.findIndex((e) => e.type === 'transfer-started'), 'planned before any file');

  const { stream, text } = sink(true);
  let now = 0;
  const clock = (): number => (now += 250);
  const display = new ProgressDisplay({ mode: 'bars', stream, colors: colorsFor(stream, {}), now: clock });
  const tally = new TransferTally(clock);
  for (const event of events) {
    tally.add(event);
    display.handle(event);
  }
  display.close(tally.summary(), 'received');
  const drawn = rows(text());
  assert.ok(
    drawn.some((row) => /^0\/3 files /.test(row)),
    text(),
  );
  assert.ok(
    drawn.some((row) => /^[12]\/3 files /.test(row)),
    'the overall bar counts verified downloads',
  );
  assert.match(drawn.at(-1)!, /^✓ received 3 files, /);
});

for (const [direction, verb] of [
  ['download', 'received'],
  ['upload', 'sent'],
] as const)
  test(`ProgressDisplay says how much of a delta ${direction} came from the old file (PROTOCOL.md §5.15, §5.17)`, () => {
    const { stream, text } = sink(false);
    const display = new ProgressDisplay({
      mode: 'lines',
      stream,
      colors: colorsFor(stream, {}),
      now: () => 0,
    });
    // A delta upload names no reusedBytes: what it did not send came from the server's old file.
    display.handle({
      type: 'transfer-finished',
      direction,
      file: 'disk.img',
      remotePath: 'disk.img',
      size: 1048576,
      digest: DIGEST,
      transferredBytes: 65536,
      resumedBytes: 0,
      ...(direction === 'download' ? { reusedBytes: 983040 } : {}),
      restarted: false,
      identical: false,
    });
    assert.equal(
      text().trimEnd(),
      `disk.img -> disk.img (1.00 MiB, ${verb} 64.0 KiB, 960 KiB from the old file) digest ${'ab'.repeat(8)}`,
    );
  });

test('ProgressDisplay names a failed file in the direction it travels, as its finished line does: local -> remote up, remote -> local down', () => {
  const lines = (direction: 'upload' | 'download'): string[] => {
    const { stream, text } = sink(false);
    const display = new ProgressDisplay({ mode: 'lines', stream, colors: colorsFor(stream, {}) });
    const subject = { direction, file: '/home/me/b.txt', remotePath: 'docs/b.txt' } as const;
    display.handle({
      type: 'transfer-failed',
      ...subject,
      code: 'FILE_EXISTS',
      message: 'destination exists',
    });
    display.handle({
      type: 'transfer-finished',
      ...subject,
      size: 1,
      digest: DIGEST,
      transferredBytes: 1,
      resumedBytes: 0,
      restarted: false,
      identical: false,
    });
    return text().trimEnd().split('\n');
  };
  const [upFailed, upFinished] = lines('upload');
  assert.equal(upFailed, 'failed: /home/me/b.txt -> docs/b.txt FILE_EXISTS: destination exists');
  assert.match(upFinished!, /^\/home\/me\/b\.txt -> docs\/b\.txt \(/);
  const [downFailed, downFinished] = lines('download');
  assert.equal(downFailed, 'failed: docs/b.txt -> /home/me/b.txt FILE_EXISTS: destination exists');
  assert.match(downFinished!, /^docs\/b\.txt -> \/home\/me\/b\.txt \(/);
});

test('ProgressDisplay off a terminal says a file in flight is alive at most every progressEveryMs, with the speed since', () => {
  const { stream, text } = sink(false);
  let now = 0;
  const display = new ProgressDisplay({
    mode: 'lines',
    stream,
    colors: colorsFor(stream, {}),
    now: () => now,
    progressEveryMs: 30_000,
  });
  const subject = { direction: 'download', file: 'got/a.iso', remotePath: 'a.iso' } as const;
  const size = 100 * 1024 * 1024;
  display.handle({ type: 'transfer-started', ...subject, size, heldBytes: 0, restarted: false });
  // Progress at 10 s, 29.999 s (too soon), 30 s (a line), 45 s (too soon after it), 60 s (a line).
  for (const [atMs, mib] of [
    [10_000, 10],
    [29_999, 29],
    [30_000, 30],
    [45_000, 45],
    [60_000, 90],
  ] as const) {
    now = atMs;
    display.handle({ type: 'progress', ...subject, verifiedBytes: mib * 1024 * 1024, size });
  }
  assert.deepEqual(text().trimEnd().split('\n'), [
    'a.iso -> got/a.iso: 30.0 MiB of 100 MiB (30%), 1.00 MiB/s',
    'a.iso -> got/a.iso: 90.0 MiB of 100 MiB (90%), 2.00 MiB/s',
  ]);
});
