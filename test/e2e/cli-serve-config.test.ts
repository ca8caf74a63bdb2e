// `ferry serve --config FILE` (issue 12): a JSON file whose keys are the serve flags, validated by a schema,
// unknown keys refused by name, flags winning over keys. The real CLI, real files, real sends on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const EXIT_CONFIG = 3;

describe('ferry serve --config', () => {
  let dir: string;
  let serverHome: string;
  let clientHome: string;
  const servers: ServeProcess[] = [];

  before(async () => {
    dir = await makeTempDir('ferry-serve-config-');
    serverHome = join(dir, 'server-home');
    clientHome = join(dir, 'client-home');
    const client = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(client, 0, 'keygen');
    assertExit(await runFerry(['--home', serverHome, 'keygen']), 0, 'server keygen');
    assertExit(await runFerry(['--home', serverHome, 'allow', client.stdout.trim()]), 0, 'allow');
  });

  after(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await removeTempDir(dir);
  });

  async function writeConfig(name: string, config: unknown): Promise<string> {
    const folder = join(dir, name);
    await mkdir(folder, { recursive: true });
    const path = join(folder, 'ferry-serve.json');
    await writeFile(path, JSON.stringify(config, null, 2));
    return path;
  }

  async function send(
    server: ServeProcess,
    name: string,
    bytes: number,
  ): Promise<{ result: CliResult; sha256: string }> {
    const file = join(dir, name);
    const sha256 = await writeRandomFile(file, bytes);
    const result = await runFerry([
      '--home',
      clientHome,
      'send',
      file,
      server.address,
      '--expect',
      server.id,
    ]);
    return { result, sha256 };
  }

  test('a config that sets root (relative to the file) and listen runs the server there', async () => {
    const config = await writeConfig('sets-root', {
      root: 'received',
      listen: '127.0.0.1:0',
      'log-level': 'warn',
    });
    const server = await startServe(['--home', serverHome, '--config', config]);
    servers.push(server);
    // Not the default 127.0.0.1:7443: the port came from the file.
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(server.address, '127.0.0.1:7443');
    const { result, sha256 } = await send(server, 'a.bin', 10_000);
    assertExit(result, 0, 'send');
    assert.equal(await sha256File(join(dir, 'sets-root', 'received', 'a.bin')), sha256);
  });

  test("README's and contrib/systemd's example configs are accepted as written (root and listen moved to a test's own)", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Config file'));
    const block = /```json\n([\s\S]*?)\n```/.exec(section);
    assert.ok(block, 'README\'s "Config file" section has a json example');
    const unit = await readFile(new URL('../../contrib/systemd/serve.json', import.meta.url), 'utf8');
    for (const [name, text] of [
      ['readme', block[1]!],
      ['systemd', unit],
    ] as const) {
      // Every key and value as the docs give it, except where it listens and keeps files (loopback, here).
      const example = JSON.parse(text) as Record<string, unknown>;
      const config = await writeConfig(`example-${name}`, {
        ...example,
        root: 'files',
        listen: '127.0.0.1:0',
      });
      const server = await startServe(['--home', serverHome, '--config', config]);
      servers.push(server);
      const { result, sha256 } = await send(server, `${name}.bin`, 10_000);
      assertExit(result, 0, `send to a server run by the ${name} example`);
      assert.equal(await sha256File(join(dir, `example-${name}`, 'files', `${name}.bin`)), sha256);
    }
  });

  test('a flag overrides the same key of the config, and the other keys still apply', async () => {
    const config = await writeConfig('overridden', {
      root: 'from-config',
      listen: '127.0.0.1:0',
      'max-file-size': '4k',
    });
    const cliRoot = join(dir, 'from-flag');
    const server = await startServe(['--home', serverHome, '--config', config, '--root', cliRoot]);
    servers.push(server);
    const small = await send(server, 'small.bin', 1_000);
    assertExit(small.result, 0, 'send small');
    assert.equal(await sha256File(join(cliRoot, 'small.bin')), small.sha256);
    assert.equal(existsSync(join(dir, 'overridden', 'from-config')), false, 'the config root was not used');
    // max-file-size from the file is in force: a file over 4 KiB is refused.
    const large = await send(server, 'large.bin', 5_000);
    assert.notEqual(large.result.code, 0, 'a file above the configured max-file-size was refused');
    assert.match(large.result.stderr, /FILE_TOO_LARGE|too large/i);
  });

  test('an unknown key is refused, named, before anything listens', async () => {
    const config = await writeConfig('unknown-key', { root: 'r', lsten: '127.0.0.1:0' });
    const result = await runFerry(['--home', serverHome, 'serve', '--config', config]);
    assertExit(result, EXIT_CONFIG, 'serve with an unknown key');
    assert.match(result.stderr, /^ferry: CONFIG_INVALID: .*unknown key "lsten"/m);
    assert.ok(result.stderr.includes(config), 'the message names the file');
    assert.doesNotMatch(result.stdout, /listen:/, 'the server never started');
  });

  test('a value of the wrong type, a file that is not JSON and a missing file each say what and where', async () => {
    const wrongType = await writeConfig('wrong-type', { listen: true });
    const typed = await runFerry(['--home', serverHome, 'serve', '--config', wrongType]);
    assertExit(typed, EXIT_CONFIG, 'serve with listen: true');
    assert.match(typed.stderr, /CONFIG_INVALID: .*"listen": /);

    const notJson = join(dir, 'not-json.json');
    await writeFile(notJson, '{ "root": "r", }');
    const broken = await runFerry(['--home', serverHome, 'serve', '--config', notJson]);
    assertExit(broken, EXIT_CONFIG, 'serve with broken JSON');
    assert.match(broken.stderr, /CONFIG_INVALID: .*not-json\.json is not JSON/);

    const missing = await runFerry(['--home', serverHome, 'serve', '--config', join(dir, 'nope.json')]);
    assertExit(missing, 2, 'serve with a missing config');
    assert.match(missing.stderr, /USAGE_INVALID: .*--config .*nope\.json cannot be read: enoent/);
  });
});
