// End to end: Ctrl-C (SIGINT) in the middle of a `ferry send` stops it with the one ABORTED line that says
// the verified part is kept, not with the file named failed for it ("failed: big.bin ABORTED", "sent 0
// files, 1 failed", "not sent: big.bin ABORTED"), and the same command then resumes. The link is frozen by
// a proxy after a known number of bytes, so the signal lands mid-transfer without any timer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { assertExit, runFerry, spawnFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

const FILE_BYTES = 1024 * 1024;
const FROZEN_AFTER_BYTES = 300 * 1024;

describe('ferry send interrupted with Ctrl-C', () => {
  let dir: string;
  let clientHome: string;
  let server: ServeProcess | undefined;
  let proxy: FaultProxy | undefined;
  let serverId: string;

  before(async () => {
    dir = await makeTempDir('ferry-e2e-interrupt-');
    clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    const client = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(client, 0, 'client keygen');
    const keygen = await runFerry(['--home', serverHome, 'keygen']);
    assertExit(keygen, 0, 'server keygen');
    serverId = keygen.stdout.trim();
    assertExit(await runFerry(['--home', serverHome, 'allow', client.stdout.trim()]), 0, 'allow');
    server = await startServe([
      ...['--home', serverHome, '--root', join(dir, 'root'), '--durable-batch', '64k'],
      ...['--log-level', 'warn'],
    ]);
    const [host, port] = server.address.split(':');
    proxy = await FaultProxy.start({ target: { host: host!, port: Number(port) } });
  });

  after(async () => {
    await proxy?.close();
    await server?.stop();
    await removeTempDir(dir);
  });

  test('prints only the ABORTED line, exits 130, and the same command resumes', async () => {
    const source = join(dir, 'big.bin');
    await writeRandomFile(source, FILE_BYTES);
    const args = [
      ...['--home', clientHome, 'send', source, proxy!.addressText, '--expect', serverId],
      ...['--chunk-size', '64k'],
    ];
    proxy!.setPlan((index) => (index === 0 ? { stall: { afterBytes: FROZEN_AFTER_BYTES } } : undefined));
    const sending = spawnFerry(args);
    await (await proxy!.connection(0)).waitForBytes('clientToServer', FROZEN_AFTER_BYTES);
    sending.process.kill('SIGINT');
    const stopped = await sending.done;
    assert.equal(stopped.code, 130, stopped.stderr);
    // What it kept depends on the acks that crossed before the freeze (test/e2e/cli-kept-on-stop.test.ts
    // pins the bytes): one line either way.
    const lines = stopped.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, stopped.stderr);
    assert.match(
      lines[0]!,
      /^ferry: ABORTED: aborted: interrupted; (.*big\.bin: at least .* of 1\.00 MiB verified and kept on the server: run the same command again to resume from there|no verified part was reported yet \(what was in flight may be kept on the server\): run the same command again to resume from what was kept)$/,
    );
    const resumed = await runFerry(args);
    assertExit(resumed, 0, 'the same command again');
    assert.match(resumed.stderr, /big\.bin -> big\.bin \(1\.00 MiB, (sent|resumed from [\d.]+ [KM]iB)\)/);
  });
});
