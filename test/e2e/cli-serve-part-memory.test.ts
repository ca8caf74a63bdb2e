// End to end: `ferry serve --store ...` bounds the bytes uploads hold in memory as parts (PartMemory: 256 MiB
// per client, 1 GiB in total by default), which only the library could set. `--part-memory-per-client` and
// `--part-memory` set them: an upload whose part does not fit is refused with SERVER_BUSY (here with
// `--retries 0`, so the client does not wait for room), one that fits goes through. Without `--store`, at 0,
// or a per-client bound above the total, they are refused as usage errors. Against a real Swift.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';
import { useSwiftNode } from '../helpers/swift-node.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const swift = useSwiftNode();
const rigs: ServeBehindProxy[] = [];

after(async () => {
  await Promise.all(rigs.map((rig) => rig.close()));
});

/** `ferry serve --store` on the file's Swift node, under its own prefix, with `args`. */
async function serveOnStore(args: readonly string[]): Promise<ServeBehindProxy> {
  const s = swift();
  // `ferry serve` takes its credentials from the AWS SDK's usual environment, as people run it.
  process.env.AWS_ACCESS_KEY_ID = s.node.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s.node.secretAccessKey;
  const rig = await startServeBehindProxy('ferry-e2e-part-memory-', [
    '--store',
    `s3://${s.bucket}/${randomBytes(4).toString('hex')}/`,
    '--s3-endpoint',
    s.node.endpoint,
    '--s3-region',
    s.node.region,
    '--log-level',
    'warn',
    ...args,
  ]);
  rigs.push(rig);
  return rig;
}

/** Sends a 6 MiB file (one part of 5 MiB or more held while it is written) to `rig`, never retrying. */
async function sendSixMiB(rig: ServeBehindProxy): ReturnType<typeof runFerry> {
  const file = join(rig.dir, 'six.bin');
  await writeFile(file, randomBytes(6 * 1024 * 1024));
  return runFerry([
    '--home',
    rig.clientHome,
    'send',
    file,
    rig.proxy.addressText,
    '--expect',
    rig.serverId,
    '--retries',
    '0',
  ]);
}

test('--part-memory-per-client below one part: the upload is refused with SERVER_BUSY', async () => {
  const rig = await serveOnStore(['--part-memory-per-client', '1M', '--part-memory', '64M']);
  const result = await sendSixMiB(rig);
  assertExit(result, 5, 'send to a server with 1 MiB of part memory per client');
  assert.match(result.stderr, /^ferry: SERVER_BUSY: /m, result.stderr);
});

test('--part-memory with room for a part: the same upload goes through', async () => {
  const rig = await serveOnStore(['--part-memory-per-client', '8M', '--part-memory', '8M']);
  assertExit(await sendSixMiB(rig), 0, 'send to a server with 8 MiB of part memory');
});

test('the flags without --store, at 0, or per client above the total are usage errors', async () => {
  const dir = await makeTempDir('ferry-e2e-part-memory-usage-');
  try {
    const serve = (...args: string[]): ReturnType<typeof runFerry> =>
      runFerry(['--home', join(dir, 'home'), 'serve', '--init', '--root', join(dir, 'root'), ...args]);
    const noStore = await serve('--part-memory', '1G');
    assertExit(noStore, 2, '--part-memory without --store');
    assert.match(noStore.stderr, /--part-memory\[-per-client\] need --store s3:\/\/BUCKET\/PREFIX/);
    const s = swift();
    const store = ['--store', `s3://${s.bucket}/usage/`, '--s3-endpoint', s.node.endpoint];
    const zero = await serve(...store, '--part-memory', '0');
    assertExit(zero, 2, '--part-memory 0');
    assert.match(zero.stderr, /--part-memory takes 1 byte or more, got 0/);
    const above = await serve(...store, '--part-memory-per-client', '2G');
    assertExit(above, 2, '--part-memory-per-client above the default total');
    assert.match(above.stderr, /--part-memory-per-client 2G is more than --part-memory 1G/);
  } finally {
    await removeTempDir(dir);
  }
});
