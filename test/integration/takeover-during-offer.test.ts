// A newer session of a client offers a file while an older session's offer of it still opens the partial
// (PROTOCOL.md §6.2: at most one writer per transfer). The older offer holds the claim but has no open
// transfer yet, so a takeover must wait for that offer to settle, not find nothing to stop and let both
// sessions open the same partial files. Fuzz seed 2016104715: a retried honest upload after a dropped
// session failed with PATH_NOT_FOUND, its partial's files replaced under it. Real server on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { PERMISSION_UPLOAD, type Message } from '../../src/protocol/index.js';
import {
  LocalTransferOwnership,
  serverPartialStore,
  type OwnershipClaim,
  type TransferOwnership,
} from '../../src/server/index.js';
import type {
  InspectedPartial,
  OpenPartialOptions,
  PartialStore,
  RootPath,
  StoredPartial,
  TransferHeader,
} from '../../src/transfer/index.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const CHUNK_BYTES = 1024 * 1024;

function offer(ref: number): Message {
  return {
    type: 'PUT_OFFER',
    ref,
    size: 3 * CHUNK_BYTES,
    mtimeMs: 1_700_000_000_000,
    chunkBytes: CHUNK_BYTES,
    mode: 0o644,
    overwrite: false,
    fresh: false,
    path: 'new-dir/shared.bin',
  };
}

/** The server's own store, whose first open waits at a gate the test opens. */
class GatedPartialStore implements PartialStore<string, RootPath> {
  readonly #inner: PartialStore<string, RootPath>;
  readonly #gate: Promise<void>;
  #opens = 0;
  firstOpenPending = false;
  readonly firstOpenEntered: Promise<void>;
  #entered = (): void => undefined;
  open: (
    key: string,
    header: TransferHeader,
    options: OpenPartialOptions,
  ) => Promise<StoredPartial<RootPath>>;

  constructor(inner: PartialStore<string, RootPath>, gate: Promise<void>) {
    this.#inner = inner;
    this.#gate = gate;
    this.firstOpenEntered = new Promise((resolve) => (this.#entered = resolve));
    this.open = async (key, header, options) => {
      if (++this.#opens > 1) return this.#inner.open(key, header, options);
      this.firstOpenPending = true;
      this.#entered();
      try {
        await this.#gate;
        return await this.#inner.open(key, header, options);
      } finally {
        this.firstOpenPending = false;
      }
    };
  }

  inspect(key: string): Promise<InspectedPartial | undefined> {
    return this.#inner.inspect(key);
  }
}

/** This server alone, telling the test of every claim that got past the local takeover (the second one). */
class WatchedOwnership implements TransferOwnership {
  readonly #inner = new LocalTransferOwnership();
  acquires = 0;
  readonly secondAcquired: Promise<void>;
  #second = (): void => undefined;
  constructor() {
    this.secondAcquired = new Promise((resolve) => (this.#second = resolve));
  }
  acquire(): Promise<OwnershipClaim> {
    if (++this.acquires === 2) this.#second();
    return this.#inner.acquire();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** Resolves after `turns` turns of the event loop (a bound, not a sleep: nothing here waits on time). */
async function loopTurns(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('a newer session`s offer waits for an older offer still opening the same partial, then takes it over', async (t) => {
  const identity = generateKeyPair();
  let openGate = (): void => undefined;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  let store: GatedPartialStore | undefined;
  const ownership = new WatchedOwnership();
  const { server } = await startTempDirServer(t, 'ferry-takeover-offer-', {
    authorize: (key) => (key.equals(identity.publicKey) ? { permissions: PERMISSION_UPLOAD } : undefined),
    partialStore: (partialDir) => (store = new GatedPartialStore(serverPartialStore(partialDir), gate)),
    ownership,
  });
  const older = await openAdmittedSession(t, server.address, identity);
  await older.send(offer(1));
  // The older offer holds the claim (its acquire was the first) and waits inside the partial's open.
  await store!.firstOpenEntered;
  assert.equal(ownership.acquires, 1);

  const newer = await openAdmittedSession(t, server.address, identity);
  await newer.send(offer(7));
  // Either the newer claim gets past the takeover while the older open waits (the defect), or, correctly,
  // it waits for the older offer: then its record has been read and its claim is waiting well within these
  // turns of the loop (the server runs in this process; every step up to the claim is CPU only).
  await Promise.race([ownership.secondAcquired, loopTurns(50)]);
  const secondWhileOpening = ownership.acquires >= 2 && store!.firstOpenPending;
  openGate();
  assert.equal(
    secondWhileOpening,
    false,
    'the newer session claimed the transfer while the older offer was still opening its partial',
  );

  // The older offer completes, then is taken over; the newer one is accepted once it let go.
  assert.equal((await receiveMessage(older, 'PUT_ACCEPT')).ref, 1);
  const [taken, accepted] = await Promise.all([older.receive(), receiveMessage(newer, 'PUT_ACCEPT')]);
  assert.deepEqual(taken, { type: 'ERROR', ref: 1, code: ERROR_CODES.TRANSFER_TAKEN_OVER.wire, detail: '' });
  assert.equal(accepted.ref, 7);
  assert.equal(ownership.acquires, 2);
});
