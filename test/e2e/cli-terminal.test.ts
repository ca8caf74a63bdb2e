// What `send -r` shows on a real terminal, 80 columns wide: run inside tmux (a real pty and a real
// terminal emulator), then read the screen back. Lines wider than the terminal used to be cut (the digest
// included) once the bars turned line wrapping off. The child never reads stdin: the server is pinned with
// --expect, so no prompt is shown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FERRY_BIN, assertExit, ferryEnv, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';
import { stopTmux, tmuxScreen } from '../helpers/tmux-screen.js';

const execFileAsync = promisify(execFile);
const COLUMNS = 80;
const FILES = 6;
const NAME = 'a-rather-long-directory-name/holiday-pictures-from-the-summer-of-2026';

describe('ferry send -r on an 80-column terminal (tmux)', () => {
  let dir: string;
  let server: ServeProcess | undefined;
  const socket = `ferry-test-${process.pid}`;
  let common: string[];
  let source: string;
  let clientHome: string;
  let clientId: string;

  before(async () => {
    dir = await makeTempDir('ferry-tty-');
    clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    clientId = (await runFerry(['--home', clientHome, 'keygen'])).stdout.trim();
    await runFerry(['--home', serverHome, 'keygen']);
    await runFerry(['--home', serverHome, 'allow', clientId]);
    server = await startServe(['--home', serverHome, '--root', join(dir, 'root')]);
    common = ['--home', clientHome, '--expect', server.id, '--chunk-size', '64k'];
    source = join(dir, 'album');
    await mkdir(join(source, NAME), { recursive: true });
    for (let i = 0; i < FILES; i++)
      await writeRandomFile(join(source, NAME, `picture-number-${i}-taken-at-the-beach.jpg`), 300_000 + i);
  });

  after(async () => {
    await stopTmux(socket);
    await server?.stop();
    await removeTempDir(dir);
  });

  /** Runs `ferry ARGS` in a fresh 80-column tmux pane and returns the screen once it exits. */
  async function onTerminal(args: string[]): Promise<string[]> {
    const lines = await tmuxScreen(socket, [process.execPath, FERRY_BIN, ...args], { columns: COLUMNS });
    assert.equal(lines[0], '$ ferry');
    return lines.slice(1);
  }

  test('send -r -v at 80 columns: every file line ends with its whole digest, then the summary; nothing wraps', async () => {
    const screen = await onTerminal([
      'send',
      '-r',
      '-v',
      '--mkdir',
      source,
      `${server!.address}/tty/`,
      ...common,
    ]);
    const text = screen.join('\n');
    assert.equal(screen.at(-1), 'exit=0', text);
    const fileLines = screen.filter((line) => line.startsWith('✓ ') && line.includes(' KiB, sent)'));
    assert.equal(fileLines.length, FILES, text);
    for (const line of fileLines) {
      assert.match(line, /number-\d-taken-at-the-beach\.jpg \(293 KiB, sent\) digest [0-9a-f]{16}$/);
      assert.ok(Array.from(line).length < COLUMNS, `fits: ${line}`);
    }
    assert.match(screen.at(-2)!, /^✓ sent 6 files, 1\.72 MiB in .*, avg /, text);
  });

  test('send -r at 80 columns prints no line per identical file, only the summary counting them', async () => {
    const screen = await onTerminal(['send', '-r', '--mkdir', source, `${server!.address}/tty/`, ...common]);
    const text = screen.join('\n');
    assert.equal(screen.at(-1), 'exit=0', text);
    assert.equal(screen.length, 2, text);
    assert.match(screen[0]!, /^✓ nothing to send: 6 files already identical, 1\.72 MiB checked in \S+ m?s$/);
  });

  test('a single identical file at 80 columns: its summary wraps between parts, its digest whole', async () => {
    const file = join(source, NAME, 'picture-number-0-taken-at-the-beach.jpg');
    const target = `${server!.address}/tty/a-single-picture-number-0-taken-at-the-beach.jpg`;
    assertExit(await runFerry(['send', file, target, ...common]), 0, 'the first send');
    const screen = await onTerminal(['send', file, target, ...common]);
    const text = screen.join('\n');
    assert.equal(screen.at(-1), 'exit=0', text);
    for (const line of screen) assert.ok(Array.from(line).length < COLUMNS, `fits: ${line}\n${text}`);
    // The summary's parts stay whole: the digest on a line of its own under the text, not split by the
    // terminal's wrap ("digest f7" / "bccfc92a7c272d") as the 87-column line was.
    assert.match(
      text,
      /^✓ nothing to send: 1 file already identical, 293 KiB checked in \S+ m?s,\n {2}digest [0-9a-f]{16}\nexit=0$/m,
    );
  });

  test('an error at 80 columns wraps between words, each ferry id whole on a line', async () => {
    // --expect another key's id: the server's key does not match it, an error naming both ids (~290 columns).
    const file = join(source, NAME, 'picture-number-1-taken-at-the-beach.jpg');
    const args = ['--home', clientHome, 'send', file, `${server!.address}/tty-error`, '--expect', clientId];
    const screen = await onTerminal(args);
    const text = screen.join('\n');
    assert.equal(screen.at(-1), 'exit=4', text);
    assert.match(screen[0]!, /^ferry: SERVER_KEY_CHANGED: /, text);
    assert.ok(screen.length > 3, text);
    for (const line of screen) assert.ok(Array.from(line).length < COLUMNS, `fits: ${line}\n${text}`);
    for (const id of [clientId, server!.id])
      assert.ok(
        screen.some((line) => line.includes(id)),
        `${id} whole:\n${text}`,
      );
  });

  test('a `ferry trust` to paste at 80 columns goes on over lines, continued, with the --home: pasted, it works', async () => {
    // Pinned to another key: SERVER_KEY_CHANGED's hint names `ferry --home DIR trust ADDRESS ID`, 88 columns
    // and more with its indent, which the terminal broke inside the id.
    const home = join(dir, 'pinned-to-another-key');
    await runFerry(['--home', home, 'keygen']);
    assertExit(await runFerry(['--home', home, 'trust', server!.address, clientId]), 0, 'the wrong pin');
    const file = join(source, NAME, 'picture-number-2-taken-at-the-beach.jpg');
    const send = ['--home', home, 'send', file, `${server!.address}/tty-trust`];
    const screen = await onTerminal(send);
    const text = screen.join('\n');
    assert.equal(screen.at(-1), 'exit=4', text);
    for (const line of screen) assert.ok(Array.from(line).length < COLUMNS, `fits: ${line}\n${text}`);
    // The command names the home this send read: `ferry trust` alone pinned in the default home.
    const command = /`(ferry --home \S+ trust [^`]*)`/.exec(text)?.[1];
    assert.ok(command?.includes(' \\\n'), `continued for the shell:\n${text}`);
    // Pasted into a shell as it stands on the screen, where `ferry` is this one and the default home is
    // one of the test's own.
    const elsewhere = join(dir, 'default-home');
    await execFileAsync('sh', ['-c', `ferry() { "$NODE" "$FERRY_BIN" "$@"; }\n${command}`], {
      env: ferryEnv({ NODE: process.execPath, FERRY_BIN, HOME: elsewhere, XDG_CONFIG_HOME: elsewhere }),
    });
    // Past the key check now: this new client's key is the one the server does not know.
    assert.match((await runFerry(send)).stderr, /^ferry: CLIENT_NOT_ALLOWED: /);
  });
});
