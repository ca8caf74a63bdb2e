// StorageLimits against a real small filesystem, with its clock injected: promises to sparse partials are not
// forgotten when time passes (docs/SECURITY.md "Quota and disk reserve").
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageLimits } from '../../src/server/index.js';
import type { StorageLimitOptions } from '../../src/server/storage-limits.js';
import { isFerryError } from '../../src/errors/index.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';

const MiB = 1024 * 1024;

/** Limits on a real 32 MiB filesystem keeping 8 MiB free, no quota; `later(ms)` moves their clock on. */
async function smallDisk(
  t: TestContext,
  options: Partial<StorageLimitOptions> = {},
): Promise<{ root: string; partialDir: string; limits: StorageLimits; later: (ms: number) => void }> {
  const root = await mountSmallFilesystem(t, 32 * MiB);
  const partialDir = join(root, '.ferry', 'partial');
  await mkdir(partialDir, { recursive: true });
  let now = 1_000_000;
  const limits = new StorageLimits(root, partialDir, {
    minFreeDiskBytes: 8 * MiB,
    clientQuotaBytes: 0,
    now: () => now,
    ...options,
  });
  return { root, partialDir, limits, later: (ms) => void (now += ms) };
}

test('StorageLimits keeps promises to sparse partials reserved however much time passes: three 11 MiB offers 400 ms apart on 32 MiB with an 8 MiB reserve, the third is DISK_FULL', async (t) => {
  const { partialDir, limits, later } = await smallDisk(t);
  const client = Buffer.alloc(32, 7);
  const ids = ['a', 'b', 'c'].map((c) => c.repeat(32));
  for (const [i, id] of ids.entries()) {
    const offered = limits.reserve(client, id, 11 * MiB);
    if (i < 2) {
      await offered;
      // What the server does next: a sparse partial of the full size, no byte of it allocated yet.
      const file = await open(join(partialDir, `${id}.part`), 'w');
      await file.truncate(11 * MiB);
      await file.close();
    } else {
      await assert.rejects(offered, (err: unknown) => isFerryError(err, 'DISK_FULL'));
    }
    later(400);
  }
  assert.equal(limits.promisedBytes, 22 * MiB);
  // Removing a partial ends its promise, and the room is there again.
  limits.released(ids[0]!);
  await limits.reserve(client, ids[2]!, 11 * MiB);
});

test("an upload's promise stands while its data keeps a day's pace within each stall timeout: on 32 MiB keeping 8 MiB, a 20 MiB offer's leaves trickled over an hour let another key's 12 MiB in, and catching up is then refused DISK_FULL until there is room", async (t) => {
  const hour = 3600 * 1000;
  // A stall timeout of an hour: the pace (20 MiB in a day: 854 KiB an hour) is more than a leaf.
  const { limits, later } = await smallDisk(t, { uploadStallMs: hour });
  const [holder, other] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
  const [upload, offer] = ['a'.repeat(32), 'b'.repeat(32)];
  const refused = (promise: Promise<void> | undefined) =>
    assert.rejects(promise ?? Promise.resolve(), (err: unknown) => isFerryError(err, 'DISK_FULL'));
  await limits.reserve(holder, upload, 20 * MiB, { awaitsData: true });
  await refused(limits.reserve(other, offer, 12 * MiB));
  // Two leaves in the first hour are behind the pace: the offer stalls at its hour.
  later(hour / 2);
  assert.equal(limits.dataArrived(upload, 128 * 1024), undefined);
  later(hour / 2 + 1);
  await limits.reserve(other, offer, 12 * MiB);
  // Catching up promises the rest again, which no longer fits beside the other key's 12 MiB.
  await refused(limits.dataArrived(upload, 800 * 1024));
  // With room again it is promised, and holds while its data keeps the pace.
  limits.released(offer);
  await limits.dataArrived(upload, 0);
  later(hour - 1);
  assert.equal(limits.dataArrived(upload, 854 * 1024), undefined);
  later(hour - 1);
  await refused(limits.reserve(other, offer, 12 * MiB));
});

test('what a stalled upload writes before it catches up is checked against the reserve: on 32 MiB keeping 8 MiB with 23 MiB promised to another key, 512 KiB fit and 2 MiB are DISK_FULL', async (t) => {
  const hour = 3600 * 1000;
  // Ten hours: the pace of 20 MiB is then 8.3 MiB, so neither write catches up.
  const { limits, later } = await smallDisk(t, { uploadStallMs: 10 * hour });
  const upload = 'a'.repeat(32);
  await limits.reserve(Buffer.alloc(32, 1), upload, 20 * MiB, { awaitsData: true });
  later(10 * hour + 1);
  await limits.reserve(Buffer.alloc(32, 2), 'b'.repeat(32), 23 * MiB);
  await limits.dataArrived(upload, 512 * 1024);
  await assert.rejects(limits.dataArrived(upload, 2 * MiB) ?? Promise.resolve(), (err: unknown) =>
    isFerryError(err, 'DISK_FULL'),
  );
});

test("the server's own work for an upload (re-hashing, signing) is no stall: the promise holds through it, and the stall timeout starts afresh when it ends", async (t) => {
  const hour = 3600 * 1000;
  const { limits, later } = await smallDisk(t, { uploadStallMs: hour });
  const upload = 'a'.repeat(32);
  const refused = (promise: Promise<void>) =>
    assert.rejects(promise, (err: unknown) => isFerryError(err, 'DISK_FULL'));
  await limits.reserve(Buffer.alloc(32, 1), upload, 20 * MiB, { awaitsData: true });
  let finish = (): void => undefined;
  const work = new Promise<void>((resolve) => (finish = resolve));
  limits.busyWith(upload, work);
  later(2 * hour);
  await refused(limits.reserve(Buffer.alloc(32, 2), 'b'.repeat(32), 12 * MiB));
  finish();
  await work;
  later(hour - 1);
  await refused(limits.reserve(Buffer.alloc(32, 2), 'b'.repeat(32), 12 * MiB));
  later(2);
  await limits.reserve(Buffer.alloc(32, 2), 'b'.repeat(32), 12 * MiB);
});

test("a delta's signing keeps the promise at the pace the client reads it, and never revives a stalled one", async (t) => {
  const hour = 3600 * 1000;
  const { limits, later } = await smallDisk(t, { uploadStallMs: hour });
  const upload = 'a'.repeat(32);
  const other = (id: string) => limits.reserve(Buffer.alloc(32, 2), id.repeat(32), 12 * MiB);
  await limits.reserve(Buffer.alloc(32, 1), upload, 20 * MiB, { awaitsData: true });
  // 20 MiB a day is 854 KiB an hour: records of 900 KiB signed within each hour hold it for two.
  for (let i = 0; i < 2; i++) {
    later(hour - 1);
    limits.signed(upload, 900 * 1024);
  }
  later(hour - 1);
  await assert.rejects(other('b'), (err: unknown) => isFerryError(err, 'DISK_FULL'));
  // The client stopped reading: past the hour the signing's next record does not make it flow again.
  later(2);
  limits.signed(upload, 900 * 1024);
  await other('c');
});

test('a refused directory or link counts its entries in words a user reads: 1 entry, 2 entries', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'ferry-storage-entries-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const partialDir = join(root, '.ferry', 'partial');
  await mkdir(partialDir, { recursive: true });
  const limits = new StorageLimits(root, partialDir, { minFreeDiskBytes: 0, clientQuotaBytes: 1 });
  const client = Buffer.alloc(32, 9);
  for (const [count, words] of [
    [1, '1 entry of'],
    [2, '2 entries of'],
  ] as const) {
    await assert.rejects(limits.chargeEntries(client, count), (err: unknown) => {
      assert.ok(isFerryError(err, 'QUOTA_EXCEEDED'), String(err));
      assert.match(err.message, new RegExp(`, ${words} `));
      return true;
    });
  }
});

test('DISK_FULL for new directories or links names partials of interrupted uploads as an upload refusal does', async (t) => {
  // No session holds the promise: the partial of an upload cut off.
  const { root, limits, later } = await smallDisk(t, {
    isHeld: () => false,
    partialMaxAgeMs: 2 * 3600 * 1000,
  });
  const client = Buffer.alloc(32, 5);
  await limits.reserve(client, 'c'.repeat(32), 12 * MiB);
  // Another program fills the disk: with the 12 MiB promised, less than the 8 MiB reserve is left.
  await writeFile(join(root, 'filler'), Buffer.alloc(13 * MiB));
  later(400);
  await assert.rejects(limits.chargeEntries(client, 1), (err: unknown) => {
    assert.ok(isFerryError(err, 'DISK_FULL'), String(err));
    assert.match(err.message, /: 1 new entry need /);
    assert.match(err.message, /1 partial of your interrupted uploads holds 12\.0 MiB of the disk/);
    assert.match(err.message, /removed 2 h after their last write/);
    return true;
  });
  // Another client's refusal says nothing of this client's interrupted uploads: theirs to know, not its.
  await assert.rejects(limits.chargeEntries(Buffer.alloc(32, 6), 1), (err: unknown) => {
    assert.ok(isFerryError(err, 'DISK_FULL'), String(err));
    assert.doesNotMatch(err.message, /interrupted/);
    return true;
  });
});

test('DISK_FULL for a file larger than what is free says how much is free, not that it would leave 0 B', async (t) => {
  const { limits } = await smallDisk(t);
  const client = Buffer.alloc(32, 8);
  await assert.rejects(limits.reserve(client, 'd'.repeat(32), 64 * MiB), (err: unknown) => {
    assert.ok(isFerryError(err, 'DISK_FULL'), String(err));
    assert.match(
      err.message,
      /: the file needs 64\.0 MiB, only [\d.]+ [KM]iB is free, and the server keeps 8\.00 MiB of it /,
    );
    assert.doesNotMatch(err.message, /would leave/);
    return true;
  });
  // Below what is free but into the reserve: what it would leave.
  await assert.rejects(limits.reserve(client, 'e'.repeat(32), 28 * MiB), (err: unknown) => {
    assert.ok(isFerryError(err, 'DISK_FULL'), String(err));
    assert.match(
      err.message,
      /: the file needs 28\.0 MiB, which would leave [\d.]+ [KM]iB free, less than the 8\.00 MiB/,
    );
    return true;
  });
});
