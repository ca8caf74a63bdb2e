// End to end through a real cluster (issue 15, "Done means"): `ferry send` (bin/ferry, compiled dist/)
// through a byte-counting proxy to HAProxy in TCP mode in front of two `ferry serve` that keep files in one
// Swift bucket (s3api) and hand transfers over through etcd (test/helpers/cluster-rig.ts). The server
// holding the upload (found by its own log line, not guessed) is killed with SIGKILL once it reports half
// the file durable; the client's retry lands on the other server, which finds the parts and chunk hashes in
// Swift and resumes; the object read back from Swift is the file, and the bytes sent after the cut are at
// most the missing part plus one part (issue 15) plus the records around them.
//
// Size: Swift refuses parts under 5 MiB but the last, so 24 MiB in 1 MiB chunks (5 chunks per part,
// PartLayout) is 5 parts, 2 of them (10 MiB) durable at the cut. Nothing sleeps: the test waits on log
// lines, bytes crossing the proxy and process exits.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sameTransfer } from '../../scripts/cluster/ferry-cluster.js';
import { useClusterRig } from '../helpers/cluster-rig.js';
import { writeRandomFile } from '../helpers/random-file.js';

const MIB = 1024 * 1024;
const FILE_BYTES = 24 * MIB;
const PART_BYTES = 5 * MIB;
/** 31 bytes around each 64 KiB record plus a chunk record per MiB (under 1 %), and 8 KiB per session. */
const recordOverhead = (bytes: number, sessions: number): number => Math.ceil(bytes / 100) + sessions * 8192;

describe('ferry send to a cluster, kill -9 of the holding server', () => {
  // One durable batch per part: each part goes to Swift once, then the server logs progress and sends PROGRESS.
  const rig = useClusterRig(['--durable-batch', '5m']);

  test('upload through HAProxy, kill -9 of the holding server at 50 %: the retry resumes on the other server, the object is exact', async (t) => {
    const { dir, cluster } = rig();
    const source = join(dir, 'up.bin');
    await writeRandomFile(source, FILE_BYTES);
    const proxy = await rig().proxy();
    // Loopback socket buffers hold megabytes: without a bottleneck the client could hand the whole file to
    // the kernel (and the server to Swift) before the kill. The first connection carries at most 75 % of it.
    proxy.setPlan((i) => (i === 0 ? { stall: { afterBytes: FILE_BYTES * 0.75, freeze: 'one' } } : undefined));
    const send = rig().ferry(['send', source, `${proxy.addressText}/up/`, '--mkdir', '--chunk-size', '1m']);
    const isThis = (r: Record<string, unknown>): boolean => r['path'] === 'up/up.bin';
    const first = await rig().until(
      send,
      rig().holder((r) => r['event'] === 'transfer-start' && isThis(r)),
    );
    const ofThis = sameTransfer(await first.waitForLog((r) => r['event'] === 'transfer-start' && isThis(r)));
    const half = await rig().until(
      send,
      first.waitForLog(
        (r) => r['event'] === 'progress' && ofThis(r) && (r['verifiedBytes'] as number) >= FILE_BYTES / 2,
      ),
    );
    await first.kill();
    // Durable at the cut: the most the killed server reported (every progress line follows a part in Swift).
    const heldAtCut = Math.max(
      ...first.records
        .filter((r) => r['event'] === 'progress' && ofThis(r))
        .map((r) => r['verifiedBytes'] as number),
    );
    assert.ok(heldAtCut >= (half['verifiedBytes'] as number));
    // HAProxy closes the client's side; the stalled link would swallow that, so pass it on.
    const connection = await proxy.connection(0);
    connection.destroy();
    const result = await send.done;
    assert.equal(result.code, 0, result.stderr);
    const second = rig().other(first);
    const resumed = await second.waitForLog((r) => r['event'] === 'transfer-start' && isThis(r));
    assert.ok(
      (resumed['heldBytes'] as number) >= heldAtCut,
      `the other server found what was durable in Swift: held ${String(resumed['heldBytes'])} >= ${heldAtCut}`,
    );
    await second.waitForLog((r) => r['event'] === 'transfer-done' && isThis(r));
    assert.ok(
      (await rig().objectBytes(`${cluster.keyPrefix}up/up.bin`)).equals(await readFile(source)),
      'the object read back from Swift is the file',
    );
    const sessionsAfter = proxy.connections.length - 1;
    const sentAfter = proxy.bytesSince(1, 'clientToServer');
    const missing = FILE_BYTES - heldAtCut;
    const bound = missing + PART_BYTES + recordOverhead(missing + PART_BYTES, sessionsAfter);
    t.diagnostic(
      `server ${first.index} held ${heldAtCut} at the kill; server ${second.index} resumed with ` +
        `${String(resumed['heldBytes'])} held; sent after the cut ${sentAfter} bytes over ${sessionsAfter} ` +
        `connection(s), bound ${bound}`,
    );
    assert.ok(sentAfter <= bound, `sent ${sentAfter} bytes after the cut, bound ${bound}`);
  });
});
