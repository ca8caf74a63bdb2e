// End to end through a real cluster (issue 15, "Done means"): `ferry get` (bin/ferry, compiled dist/)
// through a byte-counting proxy to HAProxy in TCP mode in front of two `ferry serve` that serve files from
// one Swift bucket (s3api) with ranged GETs (test/helpers/cluster-rig.ts). The server sending the file
// (found by its own log line) is killed with SIGKILL once half the file has reached the client; the
// client's retry lands on the other server and asks only for what it lacks; the file is compared byte for
// byte with the object, and the bytes received after the cut are at most the missing part plus one part
// (issue 15) plus the records around them. 24 MiB in 1 MiB chunks (Swift's 5 MiB part minimum sets the
// test sizes of the cluster tests; a download has no part minimum but keeps the same size for the same
// bound). Nothing sleeps: the test waits on log lines, bytes crossing the proxy and process exits.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { useClusterRig } from '../helpers/cluster-rig.js';
import { writeRandomFile } from '../helpers/random-file.js';

const MIB = 1024 * 1024;
const FILE_BYTES = 24 * MIB;
const PART_BYTES = 5 * MIB;
/** 31 bytes around each 64 KiB record plus a chunk record per MiB (under 1 %), and 8 KiB per session. */
const recordOverhead = (bytes: number, sessions: number): number => Math.ceil(bytes / 100) + sessions * 8192;

describe('ferry get from a cluster, kill -9 of the sending server', () => {
  const rig = useClusterRig();

  test('download through HAProxy, kill -9 of the sending server at 50 %: the retry asks the other server for the rest, the file is exact', async (t) => {
    const { dir, cluster, swift } = rig();
    const original = join(dir, 'down-source.bin');
    await writeRandomFile(original, FILE_BYTES);
    // Put by another tool (a plain PutObject): the servers serve any object under their prefix.
    await swift.client.send(
      new PutObjectCommand({
        Bucket: swift.bucket,
        Key: `${cluster.keyPrefix}down/down.bin`,
        Body: await readFile(original),
      }),
    );
    const proxy = await rig().proxy();
    // The first connection carries at most 60 % of the file to the client, so the kill lands half way
    // whatever the kernel buffers.
    proxy.setPlan((i) =>
      i === 0
        ? { stall: { afterBytes: FILE_BYTES * 0.6, direction: 'serverToClient', freeze: 'one' } }
        : undefined,
    );
    const out = join(dir, 'downloads');
    await mkdir(out);
    const get = rig().ferry(['get', `${proxy.addressText}/down/down.bin`, `${out}/`, '--chunk-size', '1m']);
    const isThis = (r: Record<string, unknown>): boolean =>
      r['path'] === 'down/down.bin' && r['direction'] === 'download';
    const first = await rig().until(
      get,
      rig().holder((r) => r['event'] === 'transfer-start' && isThis(r)),
    );
    const connection = await proxy.connection(0);
    await connection.waitForBytes('serverToClient', FILE_BYTES / 2);
    await first.kill();
    // HAProxy closes the client's side; the stalled link would swallow that, so pass it on.
    connection.destroy();
    await connection.closed;
    const receivedBeforeCut = connection.bytes.serverToClient;
    const result = await get.done;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      (await readFile(join(out, 'down.bin'))).equals(await readFile(original)),
      'the downloaded file is the object',
    );
    const second = rig().other(first);
    await second.waitForLog((r) => r['event'] === 'transfer-done' && isThis(r));
    const sessionsAfter = proxy.connections.length - 1;
    const receivedAfter = proxy.bytesSince(1, 'serverToClient');
    const missing = FILE_BYTES - receivedBeforeCut;
    const bound = missing + PART_BYTES + recordOverhead(missing + PART_BYTES, sessionsAfter);
    t.diagnostic(
      `server ${first.index} killed after ${receivedBeforeCut} bytes reached the client; server ${second.index} ` +
        `sent ${receivedAfter} after the cut over ${sessionsAfter} connection(s), bound ${bound}`,
    );
    assert.ok(receivedAfter <= bound, `received ${receivedAfter} bytes after the cut, bound ${bound}`);
  });
});
