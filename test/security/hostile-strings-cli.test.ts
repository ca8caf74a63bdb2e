// Every string a hostile server controls reaches the user's terminal escaped and the `--json` output exact
// but escaped (docs/SECURITY.md "Terminal output"): the CLI (bin/ferry, built dist/) spawned against a real
// Noise server on loopback that answers with names, link targets and ERROR details carrying terminal controls
// (ESC sequences that clear the screen, set the window title or forge a success line; C1 CSI; bidi
// overrides). Covered here beside test/integration/malicious-server.test.ts (ls, get -r, get errors) and
// sync-down-hostile-server.test.ts (sync down): the upload side's errors (`send`, single and batched),
// `sync` up with `--delete` (the remote names it removes), and the progress bars a terminal sees (`get` and
// `send` under a pseudo-terminal, through util-linux `script`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFerry } from '../helpers/cli.js';
import { runOnTerminal } from '../helpers/run-on-terminal.js';
import { dir, file, link, startHostileRig } from './hostile-server.js';

/** Control characters, C1 and bidi controls (Unicode Cc, Cf, and the line/paragraph separators). */
const RAW_UNSAFE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

function assertNothingRaw(output: string, what: string): void {
  const match = RAW_UNSAFE.exec(output.replace(/\n/g, ''));
  assert.equal(
    match,
    null,
    `${what}: raw U+${match?.[0].codePointAt(0)?.toString(16)} in ${JSON.stringify(output)}`,
  );
}

/** The error detail of every refusal: clears the line, forges a green success line, flips the text. */
const DETAIL = 'refused\u001b[2K\r\u001b[32mall files verified\u009b0m\u202e';
const DETAIL_ESCAPED = 'refused\\x1B[2K\\x0D\\x1B[32mall files verified\\x9B0m\\u202E';
/**
 * Names a hostile listing gives, each a valid remote path (PROTOCOL.md §7.1 refuses C0 and C1 controls in a
 * name, which the client reports escaped as PATH_INVALID; bidi controls are valid names), and a link target
 * (any bytes but NUL).
 */
const HOSTILE_NAMES = [
  file('lrm\u200f.txt'),
  file('invoice\u202efdp.exe'),
  dir('isolate\u2066d'),
  link('title', 'x\u001b]0;owned\u0007'),
];

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .trimEnd()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

test('`send` shows a hostile server`s refusal escaped, one file or a batch of small ones, and --json keeps it exact', async (t) => {
  const rig = await startHostileRig(t, 'ferry-hostile-strings-');
  rig.hostile.script = { entries: [], putError: { code: 'PERMISSION_DENIED', detail: DETAIL } };
  const one = join(rig.work, 'big.bin');
  await writeFile(one, Buffer.alloc(300 * 1024, 1));
  const small = join(rig.work, 'small');
  await mkdir(small);
  for (let i = 0; i < 3; i++) await writeFile(join(small, `s${i}.txt`), `small ${i}\n`);
  for (const sources of [[one], ['-r', small]]) {
    const plain = await runFerry(['send', ...sources, `${rig.target}/in`, ...rig.common]);
    assert.notEqual(plain.code, 0, plain.stderr);
    assertNothingRaw(plain.stdout + plain.stderr, `send ${sources.join(' ')}`);
    assert.ok(plain.stderr.includes(DETAIL_ESCAPED), plain.stderr);

    const json = await runFerry(['send', ...sources, `${rig.target}/in`, '--json', ...rig.common]);
    assert.notEqual(json.code, 0, json.stderr);
    assertNothingRaw(json.stdout + json.stderr, `send --json ${sources.join(' ')}`);
    const events = jsonLines(json.stdout);
    assert.ok(
      events.some((e) => typeof e['message'] === 'string' && e['message'].includes(DETAIL)),
      `--json keeps the detail exact: ${json.stdout}`,
    );
  }
});

test('`sync LOCAL HOST/DIR --delete` shows the remote names it removes escaped, with --verbose, --dry-run and --json', async (t) => {
  const rig = await startHostileRig(t, 'ferry-hostile-strings-');
  const source = join(rig.work, 'src');
  await mkdir(source);
  await writeFile(join(source, 'keep.txt'), 'keep\n');
  rig.hostile.script = {
    entries: HOSTILE_NAMES,
    putError: { code: 'PERMISSION_DENIED', detail: DETAIL },
  };
  const args = ['sync', source, `${rig.target}/tree`, '--delete', ...rig.common];
  for (const extra of [['--dry-run', '--verbose'], ['--verbose'], ['--json']]) {
    const result = await runFerry([...args, ...extra]);
    assertNothingRaw(result.stdout, `sync up ${extra.join(' ')} stdout`);
    assertNothingRaw(result.stderr, `sync up ${extra.join(' ')} stderr`);
    if (extra.includes('--json')) {
      // Exact in the JSON: its \u escapes decode to the server's own name.
      const paths = jsonLines(result.stdout).map((e) => e['path']);
      assert.ok(paths.includes('invoice\u202efdp.exe'), result.stdout);
    } else {
      assert.ok(
        (result.stdout + result.stderr).includes('invoice\\u202Efdp.exe'),
        `the removed name, escaped: ${result.stdout}${result.stderr}`,
      );
    }
  }
  const removed = rig.hostile.received.flatMap((m) => (m.type === 'REMOVE_REQUEST' ? [m.path] : []));
  assert.ok(removed.includes('tree/invoice\u202efdp.exe'), removed.join());
});

test('on a terminal, progress bars and lines show a hostile server`s names escaped: no title, clear or bidi reaches the screen', async (t) => {
  const rig = await startHostileRig(t, 'ferry-hostile-strings-');
  rig.hostile.script = { entries: [file('lrm\u200f.txt'), file('invoice\u202efdp.exe')] };
  const dest = join(rig.work, 'dest');
  const got = await runOnTerminal(['get', '-r', `${rig.target}/tree`, dest, ...rig.common]);
  assert.equal(got.code, 0, got.output);
  // The display draws its own controls on a terminal; the server's must not be among them.
  for (const raw of ['\u200f', '\u202e'])
    assert.ok(!got.output.includes(raw), `raw ${JSON.stringify(raw)} in ${JSON.stringify(got.output)}`);
  // The bars show the file under way (which one the timing decides), escaped.
  assert.ok(/lrm\\u200F\.txt|invoice\\u202Efdp\.exe/.test(got.output), JSON.stringify(got.output));

  rig.hostile.script = { entries: [], putError: { code: 'PERMISSION_DENIED', detail: DETAIL } };
  const source = join(rig.work, 'up.bin');
  await writeFile(source, Buffer.alloc(200 * 1024, 2));
  const sent = await runOnTerminal(['send', source, `${rig.target}/in`, ...rig.common]);
  assert.notEqual(sent.code, 0, sent.output);
  for (const raw of ['\u001b[2K\r\u001b[32mall', '\u009b', '\u202e'])
    assert.ok(!sent.output.includes(raw), `raw ${JSON.stringify(raw)} in ${JSON.stringify(sent.output)}`);
  assert.ok(sent.output.includes(DETAIL_ESCAPED), JSON.stringify(sent.output));
});
