// Logs at debug level, on both sides, through a successful upload and download, a refused client and a
// refused upload: every line is JSON with a level, sessions and refusals are there with their codes, and
// nothing secret is: no private key bytes (in any encoding), no file content, no local path of the
// client's, no dashboard token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { startServeWithDashboard, type DashboardServe } from '../web/serve-with-dashboard.js';

/** A plaintext nobody could mistake for anything else, repeated past several chunks. */
const CANARY = 'FERRY-LOG-CANARY: the eagle lands at midnight; ';
const CHUNK = ['--chunk-size', '64k'];

/** Every encoding of a private key a careless log line could carry, from its PKCS#8 PEM file. */
async function keyForms(keyFile: string): Promise<string[]> {
  const pem = await readFile(keyFile, 'utf8');
  const body = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(body, 'base64');
  const raw = der.subarray(der.length - 32); // X25519 PKCS#8: the 32 key bytes come last
  assert.equal(raw.length, 32);
  return [
    body,
    ...body.match(/.{1,64}/g)!, // each PEM line on its own
    der.toString('hex'),
    raw.toString('hex'),
    raw.toString('base64').replace(/=+$/, ''),
    raw.toString('base64url'),
    JSON.stringify([...raw]).slice(1, -1), // a Buffer logged as a byte array
  ];
}

describe('logs carry sessions and refusals, never secrets', () => {
  let dir: string;
  let clientHome: string;
  let serverHome: string;
  let strangerHome: string;
  let clientFiles: string;
  let serverLog: string;
  let clientLog: string;
  let serve: DashboardServe | undefined;

  before(async () => {
    dir = await makeTempDir('ferry-logs-');
    clientHome = join(dir, 'client-home');
    serverHome = join(dir, 'server-home');
    strangerHome = join(dir, 'stranger-home');
    clientFiles = join(dir, 'client-files');
    serverLog = join(dir, 'logs', 'server.log');
    clientLog = join(dir, 'logs', 'client.log');
    await mkdir(join(clientFiles, 'other'), { recursive: true });
    const client = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(client, 0, 'client keygen');
    assertExit(await runFerry(['--home', serverHome, 'keygen']), 0, 'server keygen');
    assertExit(await runFerry(['--home', strangerHome, 'keygen']), 0, 'stranger keygen');
    assertExit(
      await runFerry(['--home', serverHome, 'allow', client.stdout.trim(), '--name', 'laptop']),
      0,
      'allow',
    );
    serve = await startServeWithDashboard([
      '--home',
      serverHome,
      '--root',
      join(dir, 'server-root'),
      '--listen',
      '127.0.0.1:0',
      '--dashboard',
      '127.0.0.1:0',
      '--log-level',
      'debug',
      '--log-file',
      serverLog,
      '--durable-batch',
      '64k',
    ]);
  });

  after(async () => {
    await serve?.stop();
    await removeTempDir(dir);
  });

  test('a transfer, a refused client and a refused upload at debug level leave no key, content or local path in any log', async () => {
    const secretFile = join(clientFiles, 'secret-plans.txt');
    await writeFile(secretFile, CANARY.repeat(6000)); // ~290 KB: several chunks, several progress batches
    await writeFile(join(clientFiles, 'other', 'secret-plans.txt'), 'different content, same name\n');
    const address = `${serve!.address.host}:${serve!.address.port}`;
    const clientFlags = ['--expect', serve!.id, '--log-level', 'debug', '--log-file', clientLog, ...CHUNK];

    const sent = await runFerry(['--home', clientHome, 'send', secretFile, address, ...clientFlags]);
    assertExit(sent, 0, 'send');
    const got = await runFerry([
      '--home',
      clientHome,
      'get',
      `${address}/secret-plans.txt`,
      join(clientFiles, 'downloaded'),
      ...clientFlags,
    ]);
    assertExit(got, 0, 'get');
    const refusedClient = await runFerry([
      '--home',
      strangerHome,
      'send',
      secretFile,
      address,
      ...clientFlags,
    ]);
    assertExit(refusedClient, 4, 'a client not on the allow-list');
    const refusedUpload = await runFerry([
      '--home',
      clientHome,
      'send',
      join(clientFiles, 'other', 'secret-plans.txt'),
      address,
      ...clientFlags,
    ]);
    assertExit(refusedUpload, 8, 'an upload over an existing, different file');
    await serve!.stop(); // flushes nothing (logs are synchronous) but ends every session line

    const serverText = await readFile(serverLog, 'utf8');
    const clientText = await readFile(clientLog, 'utf8');
    for (const [name, text] of [
      ['server', serverText],
      ['client', clientText],
    ] as const) {
      for (const line of text.trimEnd().split('\n')) {
        const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
        assert.equal(typeof entry.level, 'number', `${name} log line without a level: ${line}`);
        assert.equal(typeof entry.msg, 'string', `${name} log line without a message: ${line}`);
      }
    }

    // What must be there: every session with its peer, address, result, bytes and duration; every refusal.
    const server = serverText
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const sessions = server.filter((e) => e['event'] === 'session');
    assert.ok(sessions.length >= 4, `one line per session, got ${sessions.length}`);
    for (const session of sessions) {
      for (const field of ['peer', 'remote', 'result', 'bytesReceived', 'bytesSent', 'durationMs'])
        assert.ok(field in session, `session line without ${field}: ${JSON.stringify(session)}`);
    }
    assert.ok(sessions.some((s) => s['result'] === 'ok' && s['client'] === 'laptop'));
    assert.ok(server.some((e) => e['event'] === 'refused' && e['code'] === 'CLIENT_NOT_ALLOWED'));
    assert.ok(server.some((e) => e['event'] === 'refused' && e['code'] === 'FILE_EXISTS'));
    const client = clientText
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(client.some((e) => e['event'] === 'transfer-finished' && e['direction'] === 'upload'));
    assert.ok(client.some((e) => e['event'] === 'transfer-finished' && e['direction'] === 'download'));
    assert.ok(client.some((e) => e['event'] === 'done' && e['code'] === 'CLIENT_NOT_ALLOWED'));

    // What must never be there.
    const forbidden: Array<[string, string]> = [
      ['file content', CANARY.trim()],
      ['file content', 'eagle lands'],
      ['the local directory', clientFiles],
      ['the local file', secretFile],
      ['the dashboard token', new URL(serve!.dashboardUrl).searchParams.get('token')!],
    ];
    for (const home of [clientHome, serverHome, strangerHome])
      for (const form of await keyForms(join(home, 'identity.key')))
        forbidden.push([`a private key (${home})`, form]);
    for (const [name, text] of [
      ['server', serverText],
      ['client', clientText],
    ] as const) {
      for (const [what, needle] of forbidden)
        assert.ok(!text.includes(needle), `the ${name} log contains ${what}: ${needle.slice(0, 24)}…`);
    }
  });
});
