// End to end: every error a user meets names the file, path or address it is about, says on which side it
// happened, and gives the next step where there is an obvious one (issue 12, section 3). Real `ferry`
// processes on loopback; the server keeps an impossible free-disk reserve so that DISK_FULL is reachable.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** A loopback port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

describe('errors that name the thing and the next step', () => {
  let dir: string;
  let clientHome: string;
  let clientId: string;
  let serverHome: string;
  let root: string;
  let serverId: string;
  let server: ServeProcess;
  let file: string;

  function ferry(...args: string[]): Promise<CliResult> {
    return runFerry(['--home', clientHome, ...args, '--expect', serverId, '--retries', '0']);
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-errors-');
    clientHome = join(dir, 'client-home');
    serverHome = join(dir, 'server-home');
    root = join(dir, 'root');
    const client = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(client, 0, 'client keygen');
    clientId = client.stdout.trim();
    serverId = (await runFerry(['--home', serverHome, 'keygen'])).stdout.trim();
    assertExit(await runFerry(['--home', serverHome, 'allow', clientId]), 0, 'allow');
    server = await startServe([
      '--home',
      serverHome,
      '--root',
      root,
      '--log-level',
      'warn',
      '--min-free-disk',
      '1000T',
    ]);
    file = join(dir, 'a.txt');
    await writeFile(file, 'aaa');
  });

  after(async () => {
    await server.stop();
    await removeTempDir(dir);
  });

  test('a get onto a different local file is FILE_EXISTS naming the local file, not "from the server"', async () => {
    await writeFile(join(root, 'report.txt'), 'the server copy');
    const local = join(dir, 'local');
    await mkdir(local);
    await writeFile(join(local, 'report.txt'), 'a local edit');
    const result = await ferry('get', `${server.address}/report.txt`, local);
    assertExit(result, 8, 'get onto a different file');
    assert.ok(
      result.stderr.includes(`${join(local, 'report.txt')}: differs from ${server.address}/report.txt`),
      result.stderr,
    );
    assert.doesNotMatch(result.stderr, /from the server/);
  });

  test('a server that cannot bind says LISTEN_FAILED with its address and --listen, not CONNECT_FAILED', async () => {
    const result = await runFerry([
      '--home',
      serverHome,
      'serve',
      '--root',
      root,
      '--listen',
      server.address,
    ]);
    assertExit(result, 5, 'serve on a busy address');
    assert.match(
      result.stderr,
      /^ferry: LISTEN_FAILED: cannot listen: 127\.0\.0\.1:\d+: address already in use \(eaddrinuse\); is another server running there\? choose another address with --listen$/m,
    );
    // The dashboard's port taken (a second npm start): the same kind of line, naming --dashboard.
    const dashboard = await runFerry([
      ...['--home', serverHome, 'serve', '--root', root, '--log-level', 'silent'],
      ...['--listen', '127.0.0.1:0', '--dashboard', server.address],
    ]);
    assertExit(dashboard, 5, 'serve with its dashboard on a busy address');
    assert.ok(
      dashboard.stderr.includes(
        `ferry: LISTEN_FAILED: cannot listen: ${server.address}: the dashboard's address: already in use (eaddrinuse); is another ferry serve running? choose another with --dashboard HOST:PORT`,
      ),
      dashboard.stderr,
    );
  });

  test('--root naming a file is refused naming it', async () => {
    const result = await runFerry(['--home', serverHome, 'serve', '--root', file, '--listen', '127.0.0.1:0']);
    assertExit(result, 2, 'serve with a file as root');
    assert.ok(result.stderr.includes(`${file}: the server root is a file, not a directory`), result.stderr);
  });

  test("scp's HOST:PATH habits get the ferry spelling back", async () => {
    const colonSlash = await ferry('send', file, 'example.com:/srv/drop');
    assertExit(colonSlash, 2, 'host:/dir');
    assert.match(
      colonSlash.stderr,
      /scp's HOST:PATH form; ferry writes HOST\[:PORT\]\/PATH, here example\.com\/srv\/drop/,
    );
    const portColon = await ferry('send', file, 'example.com:7443:drop');
    assertExit(portColon, 2, 'host:7443:dir');
    assert.match(portColon.stderr, /here example\.com:7443\/drop /);
    assert.doesNotMatch(portColon.stderr, /IPv6/);
  });

  test('DISK_FULL says how much was needed and names --min-free-disk', async () => {
    const result = await ferry('send', file, server.address);
    assertExit(result, 9, 'send past the free-disk reserve');
    assert.match(
      result.stderr,
      /^ferry: DISK_FULL: no space left on the device: 127\.0\.0\.1:\d+\/a\.txt: the file needs [\d.]+ \w+, which would leave .* free, less than the 1000 TiB the server keeps \(its operator can lower ferry serve --min-free-disk\) \(from the server\)$/m,
    );
  });

  test("CLIENT_NOT_ALLOWED gives the client's own ID and the commands that admit it", async () => {
    const strangerHome = join(dir, 'stranger');
    const stranger = (await runFerry(['--home', strangerHome, 'keygen'])).stdout.trim();
    const result = await runFerry(['--home', strangerHome, 'ls', server.address, '--expect', serverId]);
    assertExit(result, 4, 'a client not on the allow-list');
    // The refusal is the server's, the way in ferry's own hint, after the mark (before it, it read as the server's).
    assert.equal(
      result.stderr,
      `ferry: CLIENT_NOT_ALLOWED: client key is not on the server allow-list: ${server.address} (from the server); this client is ${stranger}; on the server run \`ferry allow ${stranger}\` in the home whose \`ferry id\` is ${serverId}, or pair with \`ferry pair\` and a code from the server's \`ferry invite\`\n`,
    );
    // A send is refused the same way: the one error line, with no file blamed for it and no file summary.
    const other = join(dir, 'b.txt');
    await writeFile(other, 'bbb');
    const sent = await runFerry([
      '--home',
      strangerHome,
      'send',
      file,
      other,
      server.address,
      '--expect',
      serverId,
    ]);
    assertExit(sent, 4, 'send from a client not on the allow-list');
    assert.deepEqual(
      sent.stderr.trimEnd().split('\n'),
      [result.stderr.trimEnd()],
      'the same single line as ls: no "failed: a.txt", no "sent 0 files", no "not sent"',
    );
    const json = await runFerry([
      ...['--home', strangerHome, 'send', '--json', file, server.address, '--expect', serverId],
    ]);
    assertExit(json, 4, 'send --json from a client not on the allow-list');
    const summary = JSON.parse(json.stdout.trimEnd().split('\n').at(-1)!) as Record<string, unknown>;
    assert.equal(summary['type'], 'summary');
    assert.equal(summary['code'], 'CLIENT_NOT_ALLOWED', '--json still says it all');
  });

  test('connection refused on the first attempt fails at once with the address, whatever --retries says', async () => {
    const port = await closedPort();
    // A retry would wait ten minutes and outlive the test's deadline: exiting at all proves there was none.
    const result = await runFerry([
      '--home',
      clientHome,
      'send',
      file,
      `127.0.0.1:${port}`,
      '--accept-new',
      '--retries',
      '5',
      '--retry-delay',
      '10m',
    ]);
    assertExit(result, 5, 'send to a closed port');
    assert.match(
      result.stderr,
      new RegExp(
        `^ferry: CONNECT_FAILED: could not connect: 127\\.0\\.0\\.1:${port}: connection refused`,
        'm',
      ),
    );
    assert.doesNotMatch(result.stderr, /retrying/);
  });

  test('a port where no ferry server listens (a web server, the dashboard, ssh) fails the handshake naming the address and saying what answered', async () => {
    const http = createHttpServer((_req, res) => res.end('dashboard'));
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const banner = createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'));
    banner.listen(0, '127.0.0.1');
    await once(banner, 'listening');
    const garbage = createServer((socket) => socket.end(Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])));
    garbage.listen(0, '127.0.0.1');
    await once(garbage, 'listening');
    try {
      const web = `127.0.0.1:${(http.address() as { port: number }).port}`;
      const result = await runFerry(['--home', clientHome, 'ls', web, '--accept-new', '--retries', '0']);
      assertExit(result, 6, 'ls against an HTTP server');
      assert.ok(
        result.stderr.includes(
          `ferry: HANDSHAKE_FAILED: handshake failed: ${web}: an HTTP server answered, not a ferry server; check the port`,
        ),
        result.stderr,
      );
      const ssh = `127.0.0.1:${(banner.address() as { port: number }).port}`;
      const other = await runFerry([
        '--home',
        clientHome,
        'send',
        file,
        ssh,
        '--accept-new',
        '--retries',
        '0',
      ]);
      assertExit(other, 6, 'send to an SSH server');
      assert.ok(
        other.stderr.includes(
          `${ssh}: an SSH server answered, not a ferry server; check the port (ferry's is 7443 unless its server chose another)`,
        ),
        other.stderr,
      );
      // Anything else that answers: the plain question.
      const odd = `127.0.0.1:${(garbage.address() as { port: number }).port}`;
      const third = await runFerry(['--home', clientHome, 'ls', odd, '--accept-new', '--retries', '0']);
      assertExit(third, 6, 'ls against something else');
      assert.ok(
        third.stderr.includes(
          `${odd}: no version answer where the server must send one; is this a ferry server?`,
        ),
        third.stderr,
      );
    } finally {
      http.closeAllConnections();
      http.close();
      banner.close();
      garbage.close();
    }
  });

  test('a remote path with .. (or an empty component) is refused before connecting, naming the argument as typed', async () => {
    for (const [command, args] of [
      ['send', [file, `${server.address}/../etc/x`]],
      ['get', [`${server.address}/../etc/passwd`, dir]],
      ['ls', [`${server.address}/docs/../..`]],
      ['sync', [dir, `${server.address}/../up`]],
    ] as const) {
      const result = await ferry(command, ...args);
      assertExit(result, 7, `${command} with ..`);
      const typed = args.find((a) => a.startsWith(server.address))!;
      assert.ok(
        result.stderr.includes(
          `ferry: PATH_INVALID: path is not a valid relative path: ${typed}: component ${typed.includes('docs') ? 1 : 0} is ".." (a remote path is relative to your root on the server and never climbs out of it)`,
        ),
        `${command}: ${result.stderr}`,
      );
    }
    const empty = await ferry('send', file, `${server.address}/a//b`);
    assertExit(empty, 7, 'send to a//b');
    assert.ok(empty.stderr.includes(`${server.address}/a//b: component 1 is empty\n`), empty.stderr);
  });

  test('sending a directory without -r says to add -r; a missing source is named', async () => {
    const tree = join(dir, 'tree');
    await mkdir(tree);
    const result = await ferry('send', tree, server.address);
    assertExit(result, 2, 'send a directory without -r');
    assert.ok(
      result.stderr.includes(`${tree}: is a directory; add -r to send it as a tree\n`),
      result.stderr,
    );
    const missing = await ferry('send', join(dir, 'nope.txt'), server.address);
    assertExit(missing, 7, 'send a missing file');
    assert.ok(
      missing.stderr.includes(`${join(dir, 'nope.txt')}: nothing to send there on this machine`),
      missing.stderr,
    );
  });

  test('getting a directory without -r says to add -r, naming it on the server', async () => {
    await mkdir(join(root, 'docs'), { recursive: true });
    await writeFile(join(root, 'docs', 'x.txt'), 'x');
    const local = join(dir, 'get-a-directory');
    await mkdir(local);
    const result = await ferry('get', `${server.address}/docs`, local);
    assertExit(result, 2, 'get a directory without -r');
    assert.ok(
      result.stderr.includes(
        `ferry: USAGE_INVALID: invalid usage: ${server.address}/docs: is a directory on the server; add -r to get it as a tree\n`,
      ),
      result.stderr,
    );
    assert.doesNotMatch(result.stderr, /not a valid relative path/);
    assert.deepEqual(await readdir(local), [], 'nothing was made');
  });

  test('allow into a home with no identity and clients on a missing home are errors naming the home', async () => {
    const empty = join(dir, 'empty-home');
    const allow = await runFerry(['--home', empty, 'allow', clientId]);
    assertExit(allow, 3, 'allow into a home without identity');
    assert.ok(
      allow.stderr.endsWith(
        `${empty}: allow writes the allow-list of a server home, which holds its identity; check --home\n`,
      ),
      allow.stderr,
    );
    await assert.rejects(readdir(empty), { code: 'ENOENT' }, 'nothing was written there');
    const clients = await runFerry(['--home', join(dir, 'typo-home'), 'clients']);
    assertExit(clients, 3, 'clients on a missing home');
    assert.ok(clients.stderr.includes(`no such home directory: ${join(dir, 'typo-home')}`), clients.stderr);
    // A home that exists but allows nobody (a client's, say) says so, naming it, rather than print nothing.
    const none = await runFerry(['--home', clientHome, 'clients']);
    assertExit(none, 0, 'clients on a home that allows nobody');
    assert.equal(none.stdout, '');
    assert.equal(
      none.stderr,
      `no client is allowed in the home ${clientHome} (a server started with another --home has its own list)\n`,
    );
    const json = await runFerry(['--home', clientHome, 'clients', '--json']);
    // JSON lines, one per client: none at all for none (README "JSON events"), and no note.
    assert.deepEqual([json.stdout, json.stderr], ['', ''], '--json stays quiet about it');
  });

  test('digest without a file uses the ferry: CODE: message format; a missing file is named', async () => {
    const none = await runFerry(['digest']);
    assertExit(none, 2, 'digest without a file');
    assert.match(none.stderr, /^ferry: USAGE_INVALID: /);
    const missing = await runFerry(['digest', join(dir, 'nope.bin')]);
    assertExit(missing, 7, 'digest of a missing file');
    assert.match(missing.stderr, /^ferry: PATH_NOT_FOUND: no such file or directory: .*nope\.bin/m);
  });

  test("the server's log names the path and errno of a refusal, which the wire does not carry", async () => {
    // 16 components of 255 bytes: a legal remote path (PROTOCOL.md §7.1) too long for the server's disk.
    const long = Array.from({ length: 16 }, (_, i) => String(i % 10).repeat(255)).join('/');
    // Its parent exists (a shorter path), so the server meets the long name itself when asked about it.
    await mkdir(join(root, ...long.split('/').slice(0, -1)), { recursive: true });
    const result = await ferry('send', file, `${server.address}/${long}`);
    assertExit(result, 7, 'send to a path too long for the server');
    assert.match(result.stderr, /PATH_INVALID: .*name too long for this file system \(from the server\)/);
    assert.ok(!result.stderr.includes(root), 'the server root never reaches the client');
    const refusal = server.stderr
      .split('\n')
      .filter((line) => line.includes('"event":"refused"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry['path'] === long && entry['code'] === 'PATH_INVALID');
    assert.ok(refusal, `no refusal naming the path in the server log:\n${server.stderr}`);
    assert.equal(refusal['errno'], 'ENAMETOOLONG');
    assert.ok(String(refusal['file']).startsWith(root), 'the log names the server file');
  });
});
