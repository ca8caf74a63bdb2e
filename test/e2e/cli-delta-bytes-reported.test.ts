// End to end: what `ferry send --overwrite` and `ferry get --overwrite` say a delta moved (PROTOCOL.md §5.15,
// §5.17). Both directions count the same thing: the file data that crossed the wire, as the proxy between
// the CLI and `ferry serve` sees it. A delta upload reported the whole file as sent (`transferredBytes` 3 MiB
// for 64 KiB on the wire) while a delta download reported its 64 KiB, and a summary of "20.0 MiB in 114 ms,
// avg 561 KiB/s" read as a contradiction.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';

const FILE_BYTES = 3 * 1024 * 1024;
const KIB = 1024;

let rig: ServeBehindProxy | undefined;

before(async () => {
  rig = await startServeBehindProxy('ferry-cli-delta-bytes-');
});

after(() => rig?.close());

/** NAME on both sides: random, and the other side's copy with 4 bytes rewritten in place. */
async function twoCopies(name: string): Promise<{ local: string; remote: string }> {
  const old = randomBytes(FILE_BYTES);
  const next = Buffer.from(old);
  next.write('edit', 1_000_000);
  const local = join(rig!.dir, name);
  await writeFile(local, next);
  await writeFile(join(rig!.root, name), old);
  return { local, remote: `${rig!.proxy.addressText}/${name}` };
}

async function ferry(args: string[]): Promise<CliResult> {
  const { clientHome, serverId } = rig!;
  const result = await runFerry(['--home', clientHome, ...args, '--expect', serverId, '--overwrite']);
  assertExit(result, 0, args.join(' '));
  return result;
}

type Finished = { type: string; size: number; transferredBytes: number };

function finishedOf(result: CliResult): Finished {
  const events = result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Finished);
  const finished = events.filter((e) => e.type === 'transfer-finished');
  assert.equal(finished.length, 1, result.stdout);
  const summary = events.find((e) => e.type === 'summary');
  assert.equal(summary?.transferredBytes, finished[0]!.transferredBytes, 'the summary adds up the files');
  return finished[0]!;
}

for (const direction of ['upload', 'download'] as const) {
  test(`a delta ${direction} reports the file data that crossed the wire, in --json and on its lines`, async () => {
    const { local, remote } = await twoCopies(`${direction}.bin`);
    const args = direction === 'upload' ? ['send', local, remote] : ['get', remote, local];
    const before = rig!.proxy.totalBytes(direction === 'upload' ? 'clientToServer' : 'serverToClient');
    const finished = finishedOf(await ferry([...args, '--json']));
    const wire = rig!.proxy.totalBytes(direction === 'upload' ? 'clientToServer' : 'serverToClient') - before;
    assert.equal(finished.size, FILE_BYTES);
    assert.ok(finished.transferredBytes > 0, 'the rewritten block travelled');
    assert.ok(finished.transferredBytes <= 128 * KIB, `a few blocks, not ${finished.transferredBytes}`);
    assert.ok(finished.transferredBytes <= wire, `no more than the ${wire} bytes on the wire`);

    await writeFile(direction === 'upload' ? local : join(rig!.root, `${direction}.bin`), randomBytes(16), {
      flag: 'r+',
    });
    const plain = await ferry(args);
    const verb = direction === 'upload' ? 'sent' : 'received';
    assert.match(
      plain.stderr,
      new RegExp(`\\(3\\.00 MiB, ${verb} [\\d.]+ (?:B|KiB), [\\d.]+ [KM]iB from the old file\\)`),
    );
    assert.match(
      plain.stderr,
      // A few KiB: too few for a speed (MIN_RATE_BYTES), so none is given.
      new RegExp(`^${verb} 1 file, 3\\.00 MiB in .*, [\\d.]+ KiB of it on the wire, digest `, 'm'),
    );
  });
}
