// The trust prompt of an unknown server, answered after the server gave up on the handshake: a person
// reading an ID takes longer than a server's handshake timeout (10 s by default, 1 s here: message 2 reaches
// the client first even on a busy machine), and the server closed the connection meanwhile. `y` must still
// get the command done, as it does in ssh, without a retry line and without needing --retries (it is run
// with --retries 0); `n` is refused once, not asked again. Run in tmux: the child answers on its own
// terminal; the test never reads stdin.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { FERRY_BIN, serverLogged } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { stopTmux, tmuxPane } from '../helpers/tmux-screen.js';

const PROMPT = 'Trust this server and remember its key? [y/N]';
const TIMEOUT_LOGGED = /"result":"TIMEOUT"/g;

describe('the trust prompt answered after the server timed out the handshake (tmux)', () => {
  let dir: string;
  let cli: AdmittedCli | undefined;
  const socket = `ferry-trust-${process.pid}`;

  before(async () => {
    dir = await makeTempDir('ferry-trust-prompt-');
    cli = await startAdmittedServe(dir, join(dir, 'root'), ['--handshake-timeout', '1s']);
    await writeFile(join(dir, 'a.txt'), 'hello\n');
  });

  after(async () => {
    await stopTmux(socket);
    await cli?.server.stop();
    await removeTempDir(dir);
  });

  /** Runs `ferry send` on a fresh terminal, answers the prompt with `answer` once the server timed out. */
  async function sendAnswering(answer: string, name: string): Promise<string[]> {
    const timeoutsBefore = cli!.server.stderr.match(TIMEOUT_LOGGED)?.length ?? 0;
    const argv = [process.execPath, FERRY_BIN, 'send', '--home', cli!.clientHome];
    // No retries: the answer must not lean on one. (handshake-deadline-at-verify holds the client's own
    // deadline to the network's part.)
    const flags = ['--retries', '0'];
    const pane = await tmuxPane(
      socket,
      [...argv, ...flags, join(dir, 'a.txt'), `${cli!.server.address}/${name}`],
      {
        columns: 200,
      },
    );
    await serverLogged(cli!.server, /"result":"TIMEOUT"/, timeoutsBefore + 1);
    await pane.sendKeys(answer, 'Enter');
    return pane.screen();
  }

  test('answering n refuses the server once, exit 4, nothing sent', async () => {
    const screen = await sendAnswering('n', 'no.txt');
    assert.equal(screen.filter((line) => line.includes(PROMPT)).length, 1, screen.join('\n'));
    assert.match(screen.join('\n'), /SERVER_KEY_UNKNOWN: .*not accepted/, screen.join('\n'));
    assert.equal(screen.at(-1), 'exit=4', screen.join('\n'));
  });

  test('answering y sends the file on a new connection: no error, no retry line, exit 0, the key pinned', async () => {
    const screen = await sendAnswering('y', 'yes.txt');
    const text = screen.join('\n');
    assert.equal(screen.filter((line) => line.includes(PROMPT)).length, 1, text);
    assert.doesNotMatch(text, /CONNECTION_CLOSED|TIMEOUT|retrying/, text);
    assert.match(text, /✓ sent 1 file/, text);
    assert.equal(screen.at(-1), 'exit=0', text);
    assert.equal(await readFile(join(dir, 'root', 'yes.txt'), 'utf8'), 'hello\n');
    const pins = await readFile(join(cli!.clientHome, 'known-servers.json'), 'utf8');
    assert.ok(pins.includes(cli!.server.address), pins);
  });
});
