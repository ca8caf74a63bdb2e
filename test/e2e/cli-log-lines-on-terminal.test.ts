// End to end, on a real terminal (tmux): a client's log lines (`--log-level info` on a terminal prints them
// readable, src/cli/pretty-log-stream.ts) and its progress bars share stderr. The log lines were written
// straight to stderr between two redraws of the bars: a line landed on a bar's row, after its text
// (`big.bin ███ 100% 2.86 MiB / 2.86 MiB 130 MiB/s 19:28:09 INFO transfer verified ...`), and the bars'
// clean-up could erase it. They now go through the display, above the bars, as its own lines do.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FERRY_BIN, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';
import { stopTmux, tmuxScreen } from '../helpers/tmux-screen.js';

const COLUMNS = 120;
const FILES = 3;
/** Several 64 KiB chunks each, so every file has progress events and its bar is drawn before it finishes. */
const FILE_BYTES = 2 * 1024 * 1024 + 17;

describe('log lines on a terminal with progress bars (tmux)', () => {
  let dir: string;
  let server: ServeProcess | undefined;
  const socket = `ferry-test-logs-${process.pid}`;
  let common: string[];
  let source: string;

  before(async () => {
    dir = await makeTempDir('ferry-tty-logs-');
    const clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    const id = (await runFerry(['--home', clientHome, 'keygen'])).stdout.trim();
    await runFerry(['--home', serverHome, 'keygen']);
    await runFerry(['--home', serverHome, 'allow', id]);
    server = await startServe(['--home', serverHome, '--root', join(dir, 'root'), '--log-level', 'warn']);
    common = ['--home', clientHome, '--expect', server.id, '--chunk-size', '64k'];
    source = join(dir, 'tree');
    await mkdir(source, { recursive: true });
    for (let i = 0; i < FILES; i++) await writeRandomFile(join(source, `f${i}.bin`), FILE_BYTES + i);
  });

  after(async () => {
    await stopTmux(socket);
    await server?.stop();
    await removeTempDir(dir);
  });

  test('send -r --log-level info: every log line is a line of its own, none lost, beside the bars', async () => {
    const argv = [process.execPath, FERRY_BIN, 'send', '-r', '-v', source, `${server!.address}/`, ...common];
    const screen = await tmuxScreen(socket, [...argv, '--log-level', 'info'], {
      columns: COLUMNS,
      join: true,
    });
    const text = screen.join('\n');
    assert.equal(screen.at(-1), 'exit=0', text);
    // No bar row left behind either (the raw writes threw off the rows the bars' clean-up erases).
    assert.ok(!/[█░]/.test(text), text);
    const logLines = screen.filter((line) => / (INFO|WARN|ERROR) /.test(line));
    for (const line of logLines) assert.match(line, /^\d\d:\d\d:\d\d (INFO|WARN|ERROR) /, text);
    assert.equal(logLines.filter((line) => line.includes(' transfer verified ')).length, FILES, text);
    assert.equal(logLines.filter((line) => / INFO {1,2}done /.test(line)).length, 1, text);
    assert.equal(
      screen.filter((line) => line.startsWith('✓ ') && line.includes(', sent) digest ')).length,
      FILES,
      text,
    );
  });
});
