// End to end: resume after kill -9 of either side, through the real CLI (bin/ferry, compiled dist/) with
// the fault proxy between `ferry send` and `ferry serve`. Bytes are counted at the proxy. Nothing sleeps:
// the tests wait on frames crossing the proxy, process exits and banner lines.
//
// The byte bound for a resumed run, client->server, from PROTOCOL.md §2-§5 with 64 KiB chunks:
//   missing file bytes (size - what the server had proved durable)
//   + one chunk (a chunk may be in flight when durability is counted)
//   + 121 bytes per chunk sent (a 64 KiB chunk takes two PUT_DATA records: 2 + 13 + 16 around the data each;
//     PUT_CHUNK record: 2 + 41 + 16)
//   + 2 KiB per session (version offer 10, handshake 1 and 3: 1218 + 71, PUT_OFFER ~60 + path, PUT_END 55).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { runFerry, spawnFerry, startServe, type ServeProcess, type SpawnedFerry } from '../helpers/cli.js';
import { ChunkLog } from '../../src/transfer/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { listTree, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const FILE_BYTES = 2 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const CHUNK_OVERHEAD_BYTES = 121;
const SESSION_OVERHEAD_BYTES = 2048;

/**
 * Resolves once the send's `--json` events on stdout report at least `bytes` verified and durable on the
 * server (a `progress` event mirrors a PROGRESS record, sent only once its chunks are fsynced and logged:
 * PROTOCOL.md §5.7, §9.2), with the bytes reported. Not a count of PROGRESS frames at the proxy: the server
 * joins batches that queue behind a running sync into one, and so one record, so their number varies.
 */
async function verifiedAtLeast(send: SpawnedFerry, bytes: number): Promise<number> {
  const stdout = send.process.stdout!;
  const lines = createInterface({ input: stdout, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const event = JSON.parse(line) as { type?: string; verifiedBytes?: number };
      if (event.type === 'progress' && event.verifiedBytes! >= bytes) return event.verifiedBytes!;
    }
  } finally {
    stdout.resume(); // the send's later events are not read, but must not fill the pipe and block it
  }
  throw new Error(`the send ended before ${bytes} bytes were verified on the server`);
}

/** Sends SIGKILL to `child` and resolves once it has exited (its sockets are then closed by the kernel). */
async function killNow(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

function resumeBound(heldAtLeastBytes: number): number {
  const missing = FILE_BYTES - heldAtLeastBytes;
  return (
    missing +
    CHUNK_BYTES +
    (Math.ceil(missing / CHUNK_BYTES) + 1) * CHUNK_OVERHEAD_BYTES +
    SESSION_OVERHEAD_BYTES
  );
}

describe('ferry send resumes after kill -9 through a byte-counting proxy', () => {
  let dir: string;
  let clientHome: string;
  let serverHome: string;
  let serverId: string;
  const servers: ServeProcess[] = [];
  const proxies: FaultProxy[] = [];
  const children: SpawnedFerry[] = [];

  before(async () => {
    dir = await makeTempDir('ferry-e2e-resume-');
    clientHome = join(dir, 'client-home');
    serverHome = join(dir, 'server-home');
    const client = await runFerry(['--home', clientHome, 'keygen']);
    assert.equal(client.code, 0, client.stderr);
    const server = await runFerry(['--home', serverHome, 'keygen']);
    assert.equal(server.code, 0, server.stderr);
    serverId = server.stdout.trim();
    const allowed = await runFerry(['--home', serverHome, 'allow', client.stdout.trim(), '--name', 'e2e']);
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  after(async () => {
    for (const child of children)
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
    await Promise.allSettled(children.map((c) => c.done));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await Promise.allSettled(servers.map((s) => s.stop()));
    await removeTempDir(dir);
  });

  async function serve(root: string, listen?: string): Promise<ServeProcess> {
    const server = await startServe([
      '--home',
      serverHome,
      '--root',
      root,
      '--durable-batch',
      '64k',
      '--log-level',
      'warn',
      ...(listen ? ['--listen', listen] : []),
    ]);
    servers.push(server);
    return server;
  }

  async function proxyTo(server: ServeProcess): Promise<FaultProxy> {
    const [host, port] = server.address.split(':');
    const proxy = await FaultProxy.start({ target: { host: host!, port: Number(port) } });
    proxies.push(proxy);
    return proxy;
  }

  function sendArgs(source: string, proxy: FaultProxy, remoteDir: string, extra: string[] = []): string[] {
    return [
      '--home',
      clientHome,
      'send',
      source,
      `${proxy.addressText}/${remoteDir}/`,
      '--mkdir',
      '--expect',
      serverId,
      '--chunk-size',
      '64k',
      '--retry-delay',
      '1',
      ...extra,
    ];
  }

  test('after kill -9 of the server at 50 %, a restarted server and the same command finish, sending only the rest', async (t) => {
    const root = join(dir, 'root-server-kill');
    const source = join(dir, 'server-kill.bin');
    const sourceSha = await writeRandomFile(source, FILE_BYTES);
    const first = await serve(root);
    const proxy = await proxyTo(first);
    const args = sendArgs(source, proxy, 'in', ['--retries', '2']);

    // The cut point the transfer cannot outrun: the first connection carries three quarters of the file's
    // bytes to the server and then nothing more, so that server can never finish the file (a fast one did
    // before the kill landed: the send then exited 0). Its answers keep flowing back (`freeze: 'one'`).
    // Only connection 0: the client's retries go through faithfully (to a dead port, refused).
    const stallAt = (FILE_BYTES * 3) / 4;
    proxy.setPlan((i) =>
      i === 0 ? { stall: { afterBytes: stallAt, direction: 'clientToServer', freeze: 'one' } } : undefined,
    );
    const send = spawnFerry([...args, '--json']);
    children.push(send);
    const connection = await proxy.connection(0);
    // Half the file reported verified means at least half the file is durable on the server.
    const heldAtLeast = await verifiedAtLeast(send, FILE_BYTES / 2);
    // A real SIGKILL of the real server process, mid-transfer; we go on once it has exited.
    await killNow(first.process);
    assert.ok(
      connection.bytes.clientToServer <= stallAt,
      `the killed server was sent ${connection.bytes.clientToServer} bytes, at most ${stallAt}`,
    );
    // The stalled link reads nothing more from the client (its socket is paused, so it would never see the
    // client's FIN): reset it, as a crashed host's restarted kernel would answer. Every connection of the
    // failed run must then be closed, so none is left open behind the test.
    connection.reset();
    const failed = await send.done;
    assert.equal(failed.code, 5, `the interrupted send exits with the network code\n${failed.stderr}`);
    await Promise.all(proxy.connections.map((c) => c.closed));
    assert.deepEqual(
      (await readdir(join(root, 'in'))).filter((n) => !n.startsWith('.')),
      [],
      'nothing under the final name after the crash',
    );

    // Same home, root and port: the proxy's target does not even change.
    await serve(root, first.address);
    const mark = proxy.connections.length;
    const rerun = spawnFerry(args);
    children.push(rerun);
    const result = await rerun.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sha256File(join(root, 'in', 'server-kill.bin')), sourceSha);
    const resumedBytes = proxy.bytesSince(mark, 'clientToServer');
    const bound = resumeBound(heldAtLeast);
    t.diagnostic(
      `resumed run sent ${resumedBytes} bytes client->server; bound ${bound}; ${result.stderr.trim()}`,
    );
    assert.ok(resumedBytes <= bound, `resumed run sent ${resumedBytes} bytes, bound ${bound}`);
  });

  test('after kill -9 of the client at 50 %, the same command resumes and sends only the rest', async (t) => {
    const root = join(dir, 'root-client-kill');
    const source = join(dir, 'client-kill.bin');
    const sourceSha = await writeRandomFile(source, FILE_BYTES);
    const server = await serve(root);
    const proxy = await proxyTo(server);
    // Socket buffers on loopback hold megabytes: without a bottleneck the killed client would already have
    // handed the whole file to the kernel. The link carries at most 60 % of it (server->client still flows).
    proxy.setPlan((i) => (i === 0 ? { stall: { afterBytes: FILE_BYTES * 0.6, freeze: 'one' } } : undefined));
    const args = sendArgs(source, proxy, 'in');

    const send = spawnFerry([...args, '--json']);
    children.push(send);
    const connection = await proxy.connection(0);
    const heldAtLeast = await verifiedAtLeast(send, FILE_BYTES / 2);
    send.process.kill('SIGKILL');
    const killed = await send.done;
    assert.equal(killed.signal, 'SIGKILL');
    // The dead client's kernel closes its socket; the stalled link would swallow that, so pass it on.
    connection.destroy();
    await connection.closed;
    // The chunk hashes it sent are in its home's cache, written as it went (never only at the end), so the
    // resume need not read the held half again (issue 14).
    const cacheDir = join(clientHome, 'cache');
    const cacheFiles = (await readdir(cacheDir)).filter((n) => n.endsWith('.hashes'));
    assert.equal(cacheFiles.length, 1, `one cache file after the kill: ${cacheFiles.join(', ')}`);
    const cached = new Set(
      (await ChunkLog.load(join(cacheDir, cacheFiles[0]!)))?.entries.map((e) => e.index),
    );

    const mark = proxy.connections.length;
    // --json: the exact bytes it resumed from (its line says them rounded, `1.19 MiB`).
    const rerun = spawnFerry([...args, '--json']);
    children.push(rerun);
    let stdout = '';
    rerun.process.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    const result = await rerun.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sha256File(join(root, 'in', 'client-kill.bin')), sourceSha);
    const resumedBytes = proxy.bytesSince(mark, 'clientToServer');
    const bound = resumeBound(heldAtLeast);
    t.diagnostic(
      `resumed run sent ${resumedBytes} bytes client->server; bound ${bound}; ${result.stderr.trim()}`,
    );
    assert.ok(resumedBytes <= bound, `resumed run sent ${resumedBytes} bytes, bound ${bound}`);
    const finished = stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { type?: string; resumedBytes?: number })
      .find((event) => event.type === 'transfer-finished');
    const resumedFrom = Number(finished?.resumedBytes);
    assert.ok(
      resumedFrom >= heldAtLeast,
      `resumed from ${resumedFrom}, held at least ${heldAtLeast}: ${stdout}`,
    );
    // The client records a chunk's hash right after it has sent the chunk (chunk-streamer.ts,
    // stream-chunks-pooled.ts), one chunk at a time on this one stream: the server may make that last chunk
    // durable while the killed client's append never ran. So every held chunk but the last is cached; the
    // last one may be missing, which costs the resume one re-read chunk, never a wrong hash.
    const held = resumedFrom / CHUNK_BYTES;
    for (let i = 0; i < held - 1; i++)
      assert.ok(cached.has(i), `held chunk ${i} was in the killed client's cache`);
    assert.deepEqual(await readdir(cacheDir), [], 'the cache is gone once the file is placed');
  });

  test('--retries 0 fails fast on a cut connection with the network exit code 5 and leaves no file', async () => {
    const root = join(dir, 'root-fail-fast');
    const source = join(dir, 'fail-fast.bin');
    await writeRandomFile(source, FILE_BYTES);
    const server = await serve(root);
    const proxy = await proxyTo(server);
    proxy.setPlan({ cut: { afterBytes: 100_000 } });
    const send = spawnFerry(sendArgs(source, proxy, 'in', ['--retries', '0']));
    children.push(send);
    const result = await send.done;
    assert.equal(result.code, 5, result.stderr);
    assert.match(result.stderr, /CONNECTION_CLOSED/);
    assert.equal(proxy.connections.length, 1, 'no second connection');
    // The RST may even have beaten the PUT_OFFER to the server, so `in/` need not exist: list the whole root.
    assert.deepEqual(
      (await listTree(root)).filter((p) => !p.startsWith('.ferry')),
      (await listTree(root)).includes('in/') ? ['in/'] : [],
    );
  });
});
