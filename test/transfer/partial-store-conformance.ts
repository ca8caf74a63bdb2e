// The conformance suite every PartialStore passes (tus's shared store tests, for ferry's one kind of thing):
// run by file-partial-store.test.ts and memory-partial-store.test.ts; an object store (issue 15) runs it too.
// It drives the port only; what a store must guarantee is said in src/transfer/partial-store.ts.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  verifyLoggedChunks,
  type ChunkEntry,
  type PartialStore,
  type StoredPartial,
  type SweepablePartialStore,
  type TransferHeader,
} from '../../src/transfer/index.js';
import { chunkHashOf } from '../../src/protocol/index.js';

/** What the suite needs around a store: fresh keys and targets, and a look at what `finish` placed. */
export interface PartialStoreHarness<Key, Target> {
  readonly store: PartialStore<Key, Target>;
  key(name: string): Key;
  target(name: string): Promise<Target>;
  /** Puts a file at `target` that is not the store's (for the no-clobber rule). */
  placeForeign(target: Target, bytes: Buffer): Promise<void>;
  /** What is at `target`, or undefined. */
  readTarget(target: Target): Promise<{ bytes: Buffer; mode: number; mtimeMs: number } | undefined>;
  /** A power cut, for a store that can simulate one (the memory store; `capabilities.crash`). */
  readonly crash?: () => void;
  /** The same store when it can list and remove its partials, for a sweeper (`capabilities.list`). */
  readonly sweepable?: SweepablePartialStore<Key, Target>;
}

export type MakeHarness<Key, Target> = (t: TestContext) => Promise<PartialStoreHarness<Key, Target>>;

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const SIZE = 3 * CHUNK_BYTES + 100; // four chunks, the last one short
const HEADER: TransferHeader = { size: SIZE, mtimeMs: 1_700_000_000_123, chunkBytes: CHUNK_BYTES };
const LOGGED = { fresh: false, keepLog: true };

interface Content {
  bytes: Buffer;
  chunk: (index: number) => Buffer;
  entry: (index: number) => ChunkEntry;
}

function content(): Content {
  const bytes = randomBytes(SIZE);
  const chunk = (index: number): Buffer =>
    bytes.subarray(index * CHUNK_BYTES, Math.min(SIZE, (index + 1) * CHUNK_BYTES));
  return {
    bytes,
    chunk,
    entry: (index) => ({ index, hash: chunkHashOf(chunk(index)) }),
  };
}

async function writeChunk<T>(partial: StoredPartial<T>, c: Content, index: number): Promise<void> {
  await partial.write(index * CHUNK_BYTES, c.chunk(index));
}

async function readBack(
  partial: { read(offset: number, into: Buffer): Promise<number> },
  offset: number,
  length: number,
): Promise<Buffer> {
  const into = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = await partial.read(offset + done, into.subarray(done));
    if (n === 0) break;
    done += n;
  }
  return into.subarray(0, done);
}

/** Bytes never written read as zeros (a sparse file) or not at all (an object store): either way, none held. */
function holdsNothing(bytes: Buffer): boolean {
  return bytes.every((b) => b === 0);
}

function indices(entries: readonly ChunkEntry[]): number[] {
  return entries.map((e) => e.index);
}

/** Runs the port's conformance tests against the store `make` builds (one fresh harness per test). */
/**
 * What a store can be asked beyond the port: a store without one of these does not run its tests at all
 * (they are not skipped: a skipped test reads as a missing part, and these parts are optional).
 */
export interface StoreCapabilities {
  readonly crash: boolean;
  readonly list: boolean;
  /**
   * The store closes a partial with a closing record and can show it unchanged since (PROTOCOL.md §9.2);
   * a store without it must say `unchangedSinceClose: false` always (its chunks are then re-hashed).
   */
  readonly closingRecord: boolean;
}

export function describePartialStore<Key, Target>(
  name: string,
  make: MakeHarness<Key, Target>,
  capabilities: StoreCapabilities,
): void {
  const testIf = (capable: boolean): typeof test =>
    capable ? test : ((() => undefined) as unknown as typeof test);
  describe(`${name} conforms to PartialStore`, () => {
    test('open makes a new partial empty, and read returns the bytes written at any offset', async (t) => {
      const h = await make(t);
      const c = content();
      const partial = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.equal(partial.resumed, false);
      assert.equal(partial.restarted, false);
      assert.deepEqual(partial.logged, []);
      // Out of order, as parallel streams write (PROTOCOL.md §5.13).
      for (const index of [2, 0, 3, 1]) await writeChunk(partial, c, index);
      await partial.flushWrites();
      assert.deepEqual(await readBack(partial, 0, SIZE), c.bytes);
      await partial.close();
      await partial.close(); // idempotent
    });

    test('a partial reopened for the same header is resumed with the entries made durable and their bytes', async (t) => {
      const h = await make(t);
      const c = content();
      const first = await h.store.open(h.key('a'), HEADER, LOGGED);
      for (const index of [0, 1]) await writeChunk(first, c, index);
      await first.makeDurable([c.entry(0)]);
      await first.makeDurable([c.entry(1)]);
      await first.close();

      const again = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.equal(again.resumed, true);
      assert.equal(again.restarted, false);
      assert.deepEqual(again.logged, [c.entry(0), c.entry(1)]);
      assert.deepEqual(await readBack(again, 0, 2 * CHUNK_BYTES), c.bytes.subarray(0, 2 * CHUNK_BYTES));
      await again.close();
    });

    test('a partial closed cleanly is reopened and inspected unchanged since its close only if the store can show it (§9.2)', async (t) => {
      const h = await make(t);
      const c = content();
      const first = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.equal(first.unchangedSinceClose, false, 'a new partial');
      for (const index of [0, 1]) await writeChunk(first, c, index);
      await first.makeDurable([c.entry(0), c.entry(1)]);
      await first.close();

      const inspected = await h.store.inspect(h.key('a'));
      assert.equal(inspected?.unchangedSinceClose, capabilities.closingRecord);
      await inspected?.reader.close();
      const again = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.equal(again.resumed, true);
      assert.equal(again.unchangedSinceClose, capabilities.closingRecord);
      assert.deepEqual(again.logged, [c.entry(0), c.entry(1)]);
      // Reopened while `again` is still open and writing (a takeover, or a process that died holding it):
      // the partial it finds was never closed since those writes.
      await again.resetLog(again.logged);
      await writeChunk(again, c, 2);
      await again.makeDurable([c.entry(2)]);
      const meanwhile = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.equal(meanwhile.unchangedSinceClose, false, 'the partial it found was never closed');
      await meanwhile.resetLog(meanwhile.logged);
      await meanwhile.close();
      await again.close();
    });

    testIf(capabilities.crash)(
      'a partial open at a crash is not unchanged since a close, even if it was closed cleanly before (§9.2)',
      async (t) => {
        const h = await make(t);
        const c = content();
        const first = await h.store.open(h.key('a'), HEADER, LOGGED);
        await writeChunk(first, c, 0);
        await first.makeDurable([c.entry(0)]);
        await first.close();
        const second = await h.store.open(h.key('a'), HEADER, LOGGED);
        await second.resetLog(second.logged);
        await writeChunk(second, c, 1);
        await second.makeDurable([c.entry(1)]);
        h.crash!();
        const third = await h.store.open(h.key('a'), HEADER, LOGGED);
        assert.equal(third.unchangedSinceClose, false);
        assert.deepEqual(third.logged, [c.entry(0), c.entry(1)]);
        await third.close();
      },
    );

    test('entries are claimed only by makeDurable: bytes written and closed are kept without a claim', async (t) => {
      const h = await make(t);
      const c = content();
      const first = await h.store.open(h.key('a'), HEADER, LOGGED);
      await writeChunk(first, c, 0);
      await first.flushWrites();
      await first.close();
      const again = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.deepEqual(again.logged, [], 'nothing was made durable, so nothing is claimed');
      await again.close();
    });

    test('open for another header discards the partial as restarted; fresh discards it without restarted', async (t) => {
      const h = await make(t);
      const c = content();
      const first = await h.store.open(h.key('a'), HEADER, LOGGED);
      await writeChunk(first, c, 0);
      await first.makeDurable([c.entry(0)]);
      await first.close();

      const other = await h.store.open(h.key('a'), { ...HEADER, mtimeMs: HEADER.mtimeMs + 1 }, LOGGED);
      assert.equal(other.restarted, true, 'RESTARTED: a partial of another version was discarded');
      assert.equal(other.resumed, false);
      assert.deepEqual(other.logged, []);
      assert.ok(holdsNothing(await readBack(other, 0, CHUNK_BYTES)), 'its bytes are gone');
      await writeChunk(other, c, 0);
      await other.makeDurable([c.entry(0)]);
      await other.close();

      const fresh = await h.store.open(h.key('a'), HEADER, { fresh: true, keepLog: true });
      assert.equal(fresh.restarted, false, 'FRESH is asked for, not found');
      assert.equal(fresh.resumed, false);
      assert.deepEqual(fresh.logged, []);
      await fresh.close();
      const afterFresh = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.deepEqual(afterFresh.logged, [], 'the fresh partial replaced the old one');
      await afterFresh.close();
    });

    test('resetLog replaces the log by exactly its entries, and later entries append to it', async (t) => {
      const h = await make(t);
      const c = content();
      const first = await h.store.open(h.key('a'), HEADER, LOGGED);
      for (const index of [0, 1, 2]) await writeChunk(first, c, index);
      await first.makeDurable([c.entry(0), c.entry(1), c.entry(2)]);
      await first.close();

      const again = await h.store.open(h.key('a'), HEADER, LOGGED);
      await again.resetLog([c.entry(0), c.entry(2)]);
      await writeChunk(again, c, 3);
      await again.makeDurable([c.entry(3)]);
      await again.close();
      const third = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.deepEqual(indices(third.logged), [0, 2, 3]);
      await third.close();
    });

    test('verifyLoggedChunks over the store drops a logged chunk whose bytes changed and one past the end', async (t) => {
      const h = await make(t);
      const c = content();
      const first = await h.store.open(h.key('a'), HEADER, LOGGED);
      for (const index of [0, 1, 2, 3]) await writeChunk(first, c, index);
      await first.makeDurable([0, 1, 2, 3].map(c.entry));
      // Chunk 1 changes behind the log's back.
      await first.write(CHUNK_BYTES + 5, Buffer.from([c.bytes[CHUNK_BYTES + 5]! ^ 1]));
      await first.flushWrites();
      await first.close();

      const again = await h.store.open(h.key('a'), HEADER, LOGGED);
      const lying = [...again.logged, { index: 9, hash: Buffer.alloc(32) }];
      assert.deepEqual(indices(await verifyLoggedChunks(again, lying, HEADER)), [0, 2, 3]);
      await again.close();
    });

    test('without keepLog a partial claims nothing and always reopens empty', async (t) => {
      const h = await make(t);
      const small: TransferHeader = { size: 100, mtimeMs: 0, chunkBytes: CHUNK_BYTES };
      const bytes = randomBytes(100);
      const entry = { index: 0, hash: chunkHashOf(bytes) };
      const first = await h.store.open(h.key('s'), small, { fresh: false, keepLog: false });
      await first.write(0, bytes);
      await first.makeDurable([entry]);
      assert.deepEqual(await readBack(first, 0, 100), bytes);
      await first.close();
      const again = await h.store.open(h.key('s'), small, { fresh: false, keepLog: false });
      assert.equal(again.resumed, false);
      assert.equal(again.restarted, false);
      assert.deepEqual(again.logged, []);
      assert.ok(holdsNothing(await readBack(again, 0, 100)), 'made empty');
      await again.write(0, bytes);
      const target = await h.target('small.bin');
      await again.finish(target, { mode: 0o600, mtimeMs: 0, overwrite: false });
      assert.deepEqual((await h.readTarget(target))?.bytes, bytes);
    });

    test('finish places the bytes at the target with its mode and mtime, and the partial is gone', async (t) => {
      const h = await make(t);
      const c = content();
      const partial = await h.store.open(h.key('a'), HEADER, LOGGED);
      for (const index of [0, 1, 2, 3]) await writeChunk(partial, c, index);
      await partial.makeDurable([c.entry(0)]);
      const target = await h.target('out.bin');
      await partial.finish(target, { mode: 0o640, mtimeMs: HEADER.mtimeMs, overwrite: false });
      const placed = await h.readTarget(target);
      assert.ok(placed, 'placed');
      assert.deepEqual(placed.bytes, c.bytes);
      assert.equal(placed.mode, 0o640);
      assert.equal(Math.floor(placed.mtimeMs), HEADER.mtimeMs);
      assert.equal(await h.store.inspect(h.key('a')), undefined, 'no partial left');
      const again = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.equal(again.resumed, false);
      await again.abort();
    });

    test('finish never replaces an existing target without overwrite (FILE_EXISTS), and replaces it with overwrite', async (t) => {
      const h = await make(t);
      const c = content();
      const target = await h.target('existing.bin');
      await h.placeForeign(target, Buffer.from('the old content'));
      const refused = await h.store.open(h.key('a'), HEADER, LOGGED);
      for (const index of [0, 1, 2, 3]) await writeChunk(refused, c, index);
      await refused.makeDurable([0, 1, 2, 3].map(c.entry));
      await assert.rejects(refused.finish(target, { mode: 0o644, mtimeMs: 0, overwrite: false }), {
        code: 'FILE_EXISTS',
      });
      assert.equal((await h.readTarget(target))?.bytes.toString(), 'the old content');
      await refused.close();

      const kept = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.equal(kept.resumed, true, 'a refused finish keeps the partial for another try');
      await kept.resetLog(kept.logged);
      await kept.finish(target, { mode: 0o644, mtimeMs: 0, overwrite: true });
      assert.deepEqual((await h.readTarget(target))?.bytes, c.bytes);
    });

    test('abort removes the partial and its log', async (t) => {
      const h = await make(t);
      const c = content();
      const partial = await h.store.open(h.key('a'), HEADER, LOGGED);
      await writeChunk(partial, c, 0);
      await partial.makeDurable([c.entry(0)]);
      await partial.abort();
      assert.equal(await h.store.inspect(h.key('a')), undefined);
      const again = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.equal(again.resumed, false);
      assert.equal(again.restarted, false);
      await again.abort();
    });

    test('inspect reads a partial without changing it', async (t) => {
      const h = await make(t);
      const c = content();
      assert.equal(await h.store.inspect(h.key('a')), undefined, 'none yet');
      const partial = await h.store.open(h.key('a'), HEADER, LOGGED);
      for (const index of [0, 1]) await writeChunk(partial, c, index);
      await partial.makeDurable([c.entry(0), c.entry(1)]);
      await partial.close();

      const found = await h.store.inspect(h.key('a'));
      assert.ok(found);
      assert.deepEqual(found.header, HEADER);
      assert.deepEqual(indices(await verifyLoggedChunks(found.reader, found.logged, found.header)), [0, 1]);
      await found.reader.close();
      const again = await h.store.open(h.key('a'), HEADER, LOGGED);
      assert.equal(again.resumed, true);
      assert.deepEqual(indices(again.logged), [0, 1]);
      await again.close();
    });

    testIf(capabilities.list)(
      'list names each partial with when it was last written, and remove deletes it',
      async (t) => {
        const h = await make(t);
        const store = h.sweepable;
        assert.ok(store, 'a store with capabilities.list gives the harness its sweepable store');
        const c = content();
        const before = Date.now();
        for (const name of ['a', 'b']) {
          const partial = await store.open(h.key(name), HEADER, LOGGED);
          await writeChunk(partial, c, 0);
          await partial.makeDurable([c.entry(0)]);
          await partial.close();
        }
        const listed = await store.list();
        assert.deepEqual(listed.map((p) => p.key).sort(), [h.key('a'), h.key('b')].sort());
        for (const { touchedMs } of listed) assert.ok(touchedMs >= before - 1000, `touched at ${touchedMs}`);
        await store.remove(h.key('a'));
        await store.remove(h.key('a')); // idempotent
        assert.deepEqual(
          (await store.list()).map((p) => p.key),
          [h.key('b')],
        );
        assert.equal(await store.inspect(h.key('a')), undefined);
      },
    );

    testIf(capabilities.crash)(
      'a crash keeps exactly what was made durable: later writes and entries not yet durable are lost',
      async (t) => {
        const h = await make(t);
        assert.ok(h.crash, 'a store with capabilities.crash gives the harness its crash()');
        const c = content();
        const partial = await h.store.open(h.key('a'), HEADER, LOGGED);
        await writeChunk(partial, c, 0);
        await partial.makeDurable([c.entry(0)]);
        await writeChunk(partial, c, 1);
        await partial.flushWrites();
        h.crash();
        await assert.rejects(
          partial.write(0, Buffer.alloc(1)),
          { code: 'INTERNAL' },
          'the old handle is dead',
        );

        const again = await h.store.open(h.key('a'), HEADER, LOGGED);
        assert.equal(again.resumed, true);
        assert.deepEqual(indices(again.logged), [0]);
        assert.deepEqual(await readBack(again, 0, CHUNK_BYTES), c.chunk(0), 'the durable chunk survived');
        assert.ok(
          holdsNothing(await readBack(again, CHUNK_BYTES, CHUNK_BYTES)),
          'the chunk never made durable did not',
        );
        await again.close();
      },
    );
  });
}
