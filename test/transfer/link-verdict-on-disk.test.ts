// linkVerdictOnDisk checks a PUT_LINK (server) or a listed link (client, get -r) against the directory on disk.
// Found by the server fuzz (seed 1967364089, inputs 226-235): it restarted the resolution after each path it
// learnt, redoing the whole walk per component, cubic in the depth: a PUT_LINK whose 4 KiB path had 800
// components under a missing directory held the server's event loop 5.2 s (2047 components: 80 s), and every
// handshake deadline and idle timeout of every other connection waited behind it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_PATH_BYTES } from '../../src/protocol/index.js';
import { linkResolution, linkVerdictOnDisk } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { measureEventLoopHold, type EventLoopHold } from '../helpers/event-loop-hold.js';

/**
 * CPU time spent without letting the event loop turn: far above what the fixed check spends (1-2 ms), far
 * below what the old one did (5.2 s for the fuzz's path, 80 s for the longest).
 */
const HOLD_LIMIT_CPU_MS = 250;

function held(hold: EventLoopHold<unknown>): string {
  return `${Math.round(hold.longestCpuMs)} ms of CPU (${Math.round(hold.longestMs)} ms of wall time)`;
}

/** The paths `linkResolution` asks about, each answered from `tree` (a path not in it is missing). */
function questions(tree: ReadonlySet<string>, link: readonly string[], target: string): string[] {
  const asked: string[] = [];
  const walk = linkResolution(link, target, 0);
  for (let step = walk.next(); ;) {
    if (step.done) {
      assert.equal(step.value.verdict, 'inside');
      return asked;
    }
    const key = step.value.join('/');
    asked.push(key);
    step = walk.next(tree.has(key) ? { kind: 'dir' } : { kind: 'missing' });
  }
}

test('linkResolution asks each path once, in one pass, and nothing below a missing directory of the link', () => {
  const link = [...Array<string>(800).fill('fuzz'), 'x'];
  const all = new Set(link.slice(0, -1).map((_, i) => link.slice(0, i + 1).join('/')));
  const overDirectories = questions(all, link, 'y');
  // Each of the link's 800 directories once, then the target `y` beside the link.
  assert.equal(new Set(overDirectories).size, overDirectories.length, 'no path asked twice');
  assert.equal(overDirectories.length, 801);
  // The fuzz's case: only `fuzz` exists, so `fuzz/fuzz` is missing and so is everything below it.
  assert.deepEqual(questions(new Set(['fuzz']), link, 'y'), [
    'fuzz',
    'fuzz/fuzz',
    `${link.slice(0, -1).join('/')}/y`,
  ]);
});

test('linkVerdictOnDisk decides a link with a 4 KiB path (800 or 2047 components) without holding the event loop', async (t) => {
  const root = await makeTempDir('ferry-link-deep-');
  t.after(() => removeTempDir(root));
  await mkdir(join(root, 'fuzz'));
  const fuzzInput = [...Array<string>(800).fill('fuzz'), 'x']; // the fuzz's path: 'fuzz/' x 800 + 'x'
  const longest = ['fuzz', ...Array<string>((MAX_PATH_BYTES - 'fuzz/x'.length) / 2).fill('a'), 'x'];
  assert.ok(longest.join('/').length <= MAX_PATH_BYTES);
  for (const [name, link] of [
    ['fuzz/ x 800', fuzzInput],
    [`${longest.length} components`, longest],
  ] as const) {
    const hold = await measureEventLoopHold(() => linkVerdictOnDisk(root, link, 'y', 0));
    assert.equal(hold.result.verdict, 'inside', name);
    assert.ok(hold.longestCpuMs < HOLD_LIMIT_CPU_MS, `${name}: the event loop was held ${held(hold)}`);
  }
});

test('linkVerdictOnDisk over real directories 1000 deep: climbs back to the top and no further, without holding the event loop', async (t) => {
  const root = await makeTempDir('ferry-link-deep-');
  t.after(() => removeTempDir(root));
  const deep = Array<string>(1000).fill('d');
  await mkdir(join(root, ...deep), { recursive: true });
  const hold = await measureEventLoopHold(() =>
    linkVerdictOnDisk(root, [...deep, 'l'], `${'../'.repeat(999)}d/x`, 0),
  );
  assert.equal(hold.result.verdict, 'inside');
  assert.ok(hold.longestCpuMs < HOLD_LIMIT_CPU_MS, `the event loop was held ${held(hold)}`);
  // Climbing one level more than the link's directories leaves the root.
  assert.equal(
    (await linkVerdictOnDisk(root, [...deep, 'l'], '../'.repeat(1001).slice(0, -1), 0)).verdict,
    'outside',
  );
});
