// The first commands a new user runs say what they did and what comes next (issue 12, section 5): keygen
// names the key file and the next steps, invite prints a `ferry pair` line with the address the server on
// that home really listens on, and `ferry serve` on a terminal logs readable lines (JSON only off a
// terminal). The terminal is a real pty (`script`); nothing here reads stdin.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FERRY_BIN, ferryEnv, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** The checkout bin/ferry is in: where `npm start` runs, and `./bin/ferry` names it. */
const CHECKOUT = dirname(dirname(FERRY_BIN));

/**
 * The output of `command` (a `ferry serve`) run in `cwd` on a pty (`script`; its own stdin is /dev/null, so
 * nothing waits on a terminal), with no `ferry` on the PATH, up to its banner's listening address: then
 * it is stopped.
 */
async function serveOnTerminal(command: readonly string[], cwd: string): Promise<string> {
  const child = spawn('script', ['-q', '-e', '-c', command.map((a) => `'${a}'`).join(' '), '/dev/null'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
    env: ferryEnv({ NO_COLOR: '1', PATH: '/usr/bin:/bin' }),
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  // A server that never prints the expected line must not outlive the test.
  const deadline = setTimeout(() => child.kill('SIGTERM'), 30_000);
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        output += text;
        if (/listen: /.test(output) && /server ready {2}event=listening/.test(output)) resolve();
      });
      void closed.then(() => reject(new Error(`script exited early:\n${output}`)));
    });
  } finally {
    clearTimeout(deadline);
    child.kill('SIGTERM'); // the pty closes, and the server gets SIGHUP
    await closed;
  }
  return output;
}

describe('ferry first steps: keygen, invite, serve on a terminal', () => {
  let dir: string;
  let serverHome: string;
  let server: ServeProcess | undefined;

  /** An environment whose PATH runs this ferry as `ferry` (a link to bin/ferry), as an installed one. */
  const pathWithThisFerry = { PATH: '' };

  before(async () => {
    dir = await makeTempDir('ferry-first-');
    serverHome = join(dir, 'server-home');
    await mkdir(join(dir, 'path-bin'));
    await symlink(FERRY_BIN, join(dir, 'path-bin', 'ferry'));
    pathWithThisFerry.PATH = `${join(dir, 'path-bin')}:/usr/bin:/bin`;
  });

  after(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test('ferry --help ends with the first steps in order, server and client, and the --home a server needs', async () => {
    const result = await runFerry(['--help']);
    assert.equal(result.code, 0, result.stderr);
    const steps = result.stdout.slice(result.stdout.indexOf('First steps')).replace(/\s+/g, ' ');
    assert.match(steps, /on the server: ferry serve --init --root DIR, then ferry invite --name NAME/);
    assert.match(steps, /on a client: ferry keygen, then ferry pair HOST:PORT/);
    assert.match(steps, /ferry send FILE HOST:PORT/);
    assert.match(steps, /--home DIR \(npm start: \.\/\.ferry-home\) needs it on invite, allow and clients/);
    // The list of commands names their arguments as the README does, the server's place included (it said
    // `send [options] <paths...>`), and every line fits 80 columns (the first steps ran to 102).
    for (const term of [
      'send PATH... HOST[:PORT][/REMOTE_PATH]',
      'get HOST[:PORT]/REMOTE_PATH... [LOCAL]',
      'sync SRC HOST[:PORT]/DST',
      'ls HOST[:PORT][/REMOTE_DIR]',
      'allow ID',
      'digest FILE...',
    ])
      assert.ok(result.stdout.includes(`\n  ${term}  `), `${term}:\n${result.stdout}`);
    for (const line of result.stdout.split('\n'))
      assert.ok(Array.from(line).length <= 80, `fits 80 columns: ${line}`);
  });

  test('keygen prints the ID alone on stdout and, on stderr, where the key is and what to do next', async () => {
    const home = join(dir, 'client-home');
    const result = await runFerry(['--home', home, 'keygen']);
    assert.equal(result.code, 0, result.stderr);
    const id = result.stdout.trim();
    assert.match(result.stdout, /^[a-z2-7]{9}(-[a-z2-7]{9}){5}\n$/);
    assert.ok(
      result.stderr.includes(
        `private key: ${join(home, 'identity.key')}\n${' '.repeat(15)}(mode 0600; keep it secret)\n`,
      ),
      result.stderr,
    );
    assert.ok(result.stderr.includes(`ferry ID:    ${id}`), result.stderr);
    // Each command on a line of its own, as the shell here runs this ferry (no `ferry` on the PATH: its
    // path), every line within 80 columns but for the paths (they ran to 108).
    assert.match(result.stderr, /`ferry invite` there\), then:\n {4}\S*ferry pair HOST:PORT\n/);
    assert.match(
      result.stderr,
      /`ferry allow ID` there\), then:\n {4}\S*ferry send FILE HOST:PORT --expect SERVER_ID\n/,
    );
    // A path alone after its label: a home of ~/.config/ferry's length (/home/alice/...) ran 83 columns.
    for (const line of result.stderr.split('\n'))
      if (line.includes(dir)) assert.match(line, /^(ferry: created an identity in| {2}private key:) \S+$/);
      else assert.ok(line.length <= 80, `fits 80 columns: ${line}`);
    const inCheckout = await runFerry(['--home', join(dir, 'client-home-2'), 'keygen'], {
      cwd: CHECKOUT,
      env: { PATH: '/usr/bin:/bin' },
    });
    assert.match(inCheckout.stderr, /^ {4}\.\/bin\/ferry pair HOST:PORT$/m);
    assert.match(inCheckout.stderr, /^ {4}\.\/bin\/ferry serve --root DIR$/m);
  });

  test('keygen again (the README run twice) names the identity there and `ferry id`, and keeps it', async () => {
    const home = join(dir, 'twice-home');
    const id = (await runFerry(['--home', home, 'keygen'])).stdout.trim();
    const again = await runFerry(['--home', home, 'keygen']);
    assert.equal(again.code, 3, again.stderr);
    // --force alone as the next step lost the key every server had allowed, to a user who needed none.
    assert.equal(
      again.stderr,
      `ferry: KEY_EXISTS: an identity already exists: ${join(home, 'identity.key')}, ferry ID ${id}; ` +
        'nothing to do, `ferry id` prints it; --force makes a new one, which every server that allowed this ID ' +
        'must allow again\n',
    );
    assert.equal((await runFerry(['--home', home, 'id'])).stdout.trim(), id, 'the identity is kept');
  });

  test('invite prints the `ferry pair` line with the address `ferry serve` on that home listens on', async () => {
    assert.equal((await runFerry(['--home', serverHome, 'keygen'])).code, 0);
    server = await startServe(['--home', serverHome, '--root', join(dir, 'root')]);
    assert.notEqual(server.address, '127.0.0.1:7443', 'port 0: the kernel picked the port');
    const result = await runFerry(['--home', serverHome, 'invite', '--ttl', '1m'], {
      env: pathWithThisFerry,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(`^  ferry pair ${server.address} [a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`, 'm'),
    );
    assert.match(
      result.stdout,
      /^On the client \(after `ferry keygen`, once, if it has no identity yet\):$/m,
    );
    assert.doesNotMatch(result.stderr, /note:/, 'a server ran on this home: nothing to warn about');
    const explicit = await runFerry(
      ['--home', serverHome, 'invite', '--ttl', '1m', '--address', 'files.example:7443'],
      { env: pathWithThisFerry },
    );
    assert.match(explicit.stdout, /^ {2}ferry pair files\.example:7443 /m, '--address still wins');
  });

  test('invite names ferry as the shell would run it: `ferry` on the PATH, else ./bin/ferry or its path', async () => {
    const invite = (options: { cwd: string; path: string }): ReturnType<typeof runFerry> =>
      runFerry(['--home', serverHome, 'invite', '--ttl', '1m', '--address', 'files.example:7443'], {
        cwd: options.cwd,
        env: { PATH: options.path },
      });
    const inCheckout = await invite({ cwd: CHECKOUT, path: '/usr/bin:/bin' });
    assert.equal(inCheckout.code, 0, inCheckout.stderr);
    // It said `ferry pair ...` and `ferry keygen`, which a fresh clone's shell does not know.
    assert.match(inCheckout.stdout, /^ {2}\.\/bin\/ferry pair files\.example:7443 [a-z2-7-]{14}$/m);
    assert.match(inCheckout.stdout, /^On the client \(after `\.\/bin\/ferry keygen`, once/m);
    assert.match(inCheckout.stdout, /^\(or `\.\/bin\/ferry pair files\.example:7443` and type the code/m);
    for (const line of inCheckout.stdout.split('\n'))
      assert.ok(line.length <= 80, `fits 80 columns: ${line}`);
    const elsewhere = await invite({ cwd: dir, path: '/usr/bin:/bin' });
    assert.ok(elsewhere.stdout.includes(`\n  ${FERRY_BIN} pair files.example:7443 `), elsewhere.stdout);
    const another = join(dir, 'another-ferry');
    await mkdir(another, { recursive: true });
    await writeFile(join(another, 'ferry'), '#!/bin/sh\nexit 1\n');
    await chmod(join(another, 'ferry'), 0o755);
    const shadowed = await invite({ cwd: CHECKOUT, path: `${another}:${pathWithThisFerry.PATH}` });
    assert.match(shadowed.stdout, /^ {2}\.\/bin\/ferry pair /m, 'the PATH runs another ferry first');
  });

  test('invite in a home no server ever ran on (a client home, say) still prints a code, and warns on stderr that a server on another home will not know it', async () => {
    const home = join(dir, 'not-a-server-home');
    assert.equal((await runFerry(['--home', home, 'keygen'])).code, 0);
    const result = await runFerry(['--home', home, 'invite', '--ttl', '1m']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^pairing code: [a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/m);
    assert.ok(
      result.stderr.includes(`ferry: note: no \`ferry serve\` has run on the home ${home};`),
      result.stderr,
    );
    assert.match(result.stderr, /ferry --home SERVER_HOME invite/);
  });

  test("invite in a home with no identity names the home and asks for the server's, not for a keygen there", async () => {
    const home = join(dir, 'no-identity-home');
    const result = await runFerry(['--home', home, 'invite']);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(
      result.stderr,
      `ferry: KEY_NOT_FOUND: no identity in this home: ${home}: invite makes a code for the server of this home, which holds its identity; pass the server's home (\`ferry --home DIR invite\`; npm start's is ./.ferry-home)\n`,
    );
  });

  test('ferry serve on a terminal logs readable lines, not JSON', async () => {
    const home = join(dir, 'tty-home');
    assert.equal((await runFerry(['--home', home, 'keygen'])).code, 0);
    const command = [
      process.execPath,
      FERRY_BIN,
      '--home',
      home,
      'serve',
      '--root',
      join(dir, 'tty-root'),
      '--listen',
      '127.0.0.1:0',
    ];
    // In the checkout, with no `ferry` on the PATH: a fresh clone's `npm start`.
    const output = await serveOnTerminal(command, CHECKOUT);
    // The record's fields wrapped to the terminal's width (80 under `script`), each whole and under the
    // message: on one line it ran to 107 columns and the terminal broke it inside the id, before the banner.
    const lines = output.split(/\r?\n/);
    const at = lines.findIndex((line) => line.includes('server ready  event=listening'));
    assert.deepEqual(
      lines.slice(at, at + 3).map((line) => line.replace(/^\d\d:\d\d:\d\d /, 'HH:MM:SS ')),
      [
        'HH:MM:SS INFO  server ready  event=listening',
        `${' '.repeat(15)}id=${/^ {2}id: +(\S+)/m.exec(output)![1]}`,
        `${' '.repeat(15)}address=${/^ {2}listen: +(\S+)/m.exec(output)![1]}`,
      ],
      output,
    );
    for (const line of lines.slice(0, lines.indexOf('ferry server ready')))
      assert.ok(line.length < 80, `a log line within 79 columns: ${line}`);
    assert.doesNotMatch(output, /"level":/, 'no JSON on a terminal');
    // The banner leads with pairing, the smoothest first contact. With no `ferry` on the PATH its commands
    // name this checkout's (they said `ferry`, which pasted said "command not found"), and it says why.
    assert.match(output, /here: +\.\/bin\/ferry --home \S+ invite --name laptop/);
    assert.match(output, /ferry pair \.\.\./);
    // A client needs an identity before it can pair: the banner says so where pairing is offered.
    assert.match(output, /on the client: +\.\/bin\/ferry keygen +# once/);
    assert.match(
      output,
      /on the client: +\.\/bin\/ferry send FILE 127\.0\.0\.1:\d+ \\\r?\n {4}--expect [a-z2-7-]{59}\r?$/m,
    );
    assert.match(output, /\.\/bin\/ferry is this ferry: the PATH has no `ferry`, or another one/);
    // Every line of the banner within 80 columns, but for those with a path of this machine (the home).
    const banner = output.slice(output.indexOf('ferry server ready')).split(/\r?\n/);
    for (const line of banner.filter((text) => !text.includes(dir)))
      assert.ok(line.length <= 80, `fits 80 columns: ${line}`);
    assert.doesNotMatch(output, /^ +(here|on the client): +ferry /m, 'no command says plain `ferry`');
  });

  test("a first `ferry serve --init` from a checkout: its home's commands as README writes them, all within 80 columns", async () => {
    // A checkout of its own (its bin/ a link to this one's), its home inside: a fresh clone's `npm start`,
    // whose commands named the home by its whole path (`allow` 98 columns from /tmp/ferry-ux-clone) and
    // whose id line, "(new identity)" after the id, was 91.
    const checkout = join(dir, 'fresh-clone');
    await mkdir(checkout);
    await symlink(join(CHECKOUT, 'bin'), join(checkout, 'bin'));
    const command = [process.execPath, './bin/ferry', '--home', '.ferry-home', 'serve', '--init'];
    const output = await serveOnTerminal(
      [...command, '--root', 'ferry-data', '--listen', '127.0.0.1:0'],
      checkout,
    );
    const banner = output.slice(output.indexOf('ferry server ready')).split(/\r?\n/);
    assert.equal(banner[0], 'ferry server ready, with a new identity', output);
    assert.match(output, /^ {2}here: +\.\/bin\/ferry --home \.ferry-home invite --name laptop\r?$/m);
    assert.match(output, /^ {2}here: +\.\/bin\/ferry --home \.ferry-home allow CLIENT_ID --name laptop\r?$/m);
    for (const line of banner.filter((text) => !/^ {2}(root|home): /.test(text)))
      assert.ok(line.length <= 80, `fits 80 columns: ${line}`);
  });
});
