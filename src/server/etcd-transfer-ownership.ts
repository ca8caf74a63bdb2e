// Transfer ownership across servers in etcd 3.4 (docs/ARCHITECTURE.md, "Coordination"; PROTOCOL.md §6.2's
// takeover rule across servers). Keys, under the cluster's prefix:
//   owner/<transferId>     the holding claim's id, under the holder server's lease
//   takeover/<transferId>  the id of a claim waiting for the transfer, under the waiter's lease
// A claim is taken by creating owner/<id> in a txn (version = 0). A newer claim that finds it taken writes
// takeover/<id>; the holder, which watches takeover/, stops writing, then deletes owner/<id> (only if it is
// still its own: a value compare). The newer claim waits for that delete (or for the holder's lease to run
// out, which deletes the key too) before it opens the partial. A server that cannot renew its lease in
// time gives up every claim before etcd would expire it, so a server cut off from etcd stops writing
// before another can take its transfers over.
import { randomBytes } from 'node:crypto';
import { FerryError, toFerryError } from '../errors/index.js';
import { prefixEnd, type EtcdGateway } from './etcd-gateway.js';
import type { ClaimPayment } from './coordination-budget.js';
import type { OwnershipClaim, TransferOwnership } from './transfer-ownership.js';
import { untilAborted } from './until-aborted.js';

export interface EtcdOwnershipOptions {
  /** Key prefix of this cluster, e.g. `ferry/`; every server of the cluster names the same one. */
  readonly prefix: string;
  /**
   * The lease's TTL in seconds (default {@link DEFAULT_CLAIM_TTL_SECONDS}, at least
   * {@link MIN_CLAIM_TTL_SECONDS}): how long a dead server's transfers stay claimed.
   */
  readonly ttlSeconds?: number;
}

interface Held {
  readonly holder: string;
  readonly onLost: () => void;
}

interface Lease {
  readonly id: string;
  readonly stopWatch: AbortController;
  readonly renew: NodeJS.Timeout;
  lastRenewedMs: number;
}

/** How long a killed server's transfers stay claimed by default (`ferry serve --claim-ttl`). */
export const DEFAULT_CLAIM_TTL_SECONDS = 10;
/**
 * The shortest TTL: etcd grants no lease shorter than 1.5 election timeouts (1.5 s by its defaults) and
 * silently lengthens one asked shorter; and a server gives its claims up after half a TTL without a renewal
 * (#renew), so a shorter one would let a stalled event loop of a second drop every transfer it holds.
 */
export const MIN_CLAIM_TTL_SECONDS = 2;

export class EtcdTransferOwnership implements TransferOwnership {
  readonly #etcd: EtcdGateway;
  readonly #prefix: string;
  readonly #ttlSeconds: number;
  readonly #server = randomBytes(8).toString('hex');
  #counter = 0;
  #lease: Promise<Lease> | undefined;
  readonly #held = new Map<string, Held>();
  /** Per transfer, the last acquire under way: acquires of one server run in order. */
  readonly #queue = new Map<string, Promise<void>>();
  #closed = false;

  constructor(etcd: EtcdGateway, options: EtcdOwnershipOptions) {
    this.#etcd = etcd;
    this.#prefix = options.prefix;
    this.#ttlSeconds = options.ttlSeconds ?? DEFAULT_CLAIM_TTL_SECONDS;
    if (!Number.isInteger(this.#ttlSeconds) || this.#ttlSeconds < MIN_CLAIM_TTL_SECONDS)
      throw new RangeError(`ttlSeconds must be a whole number of seconds >= ${MIN_CLAIM_TTL_SECONDS}`);
  }

  #ownerKey(id: string): string {
    return `${this.#prefix}owner/${id}`;
  }

  #takeoverKey(id: string): string {
    return `${this.#prefix}takeover/${id}`;
  }

  /**
   * Runs `work` once the calls before it for `id` settled. A call whose `signal` aborts while it is queued
   * ends then, with the signal's reason (its client hung up: waiting on for the claim ahead, itself maybe
   * waiting three TTLs for another server, kept the session); the next one still waits for those ahead.
   */
  #serially<T>(id: string, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    const before = this.#queue.get(id) ?? Promise.resolve();
    const run = untilAborted(before, signal).then(work);
    const settled = Promise.all([before, run.catch(() => undefined)]).then(() => undefined);
    this.#queue.set(id, settled);
    void settled.then(() => {
      if (this.#queue.get(id) === settled) this.#queue.delete(id);
    });
    return run;
  }

  acquire(
    transferId: string,
    onLost: () => void,
    payment?: ClaimPayment,
    signal?: AbortSignal,
  ): Promise<OwnershipClaim> {
    return this.#serially(transferId, signal, () => this.#acquire(transferId, onLost, payment, signal));
  }

  async #acquire(
    id: string,
    onLost: () => void,
    payment: ClaimPayment | undefined,
    signal: AbortSignal | undefined,
  ): Promise<OwnershipClaim> {
    if (this.#closed) throw new FerryError('SERVER_BUSY', 'the server is closing');
    if (signal?.aborted) throw toFerryError(signal.reason);
    // Paid before etcd hears of it (docs/SECURITY.md "Admission in a cluster"): an offer bouncing between
    // two servers made every round's requests with nothing to slow it but etcd's own answers.
    await payment?.claim();
    const lease = await this.#currentLease();
    const holder = `${this.#server}:${++this.#counter}`;
    const owner = this.#ownerKey(id);
    // A holder that neither lets go nor loses its lease in this long is not to be waited for longer.
    const deadline = Date.now() + 3 * this.#ttlSeconds * 1000;
    for (;;) {
      if (signal?.aborted) throw toFerryError(signal.reason);
      const taken = await this.#etcd.txn(
        [{ key: owner, target: 'VERSION', result: 'EQUAL', version: '0' }],
        [{ put: { key: owner, value: holder, lease: lease.id } }],
        [{ range: { key: owner } }],
      );
      if (taken.succeeded) {
        this.#held.set(id, { holder, onLost });
        // Our takeover request, if any, has done its work.
        await this.#etcd.txn(
          [{ key: this.#takeoverKey(id), target: 'VALUE', result: 'EQUAL', value: holder }],
          [{ delete: { key: this.#takeoverKey(id) } }],
        );
        // Not queued behind later acquires: a release compares the value, so it is safe at any time, and
        // a later acquire of this server waits for it like any other.
        return { release: () => this.#release(id, holder) };
      }
      const current = taken.kvs[0];
      if (current === undefined) continue; // deleted between the compare and the read: try again
      if (Date.now() > deadline) {
        await this.#withdraw(id, holder);
        throw new FerryError('SERVER_BUSY', 'the transfer is held by another server that does not let go');
      }
      // Watch for the holder's delete from just after its put, then ask it to let go.
      const stop = new AbortController();
      const gone = new Promise<void>((resolve, reject) => {
        this.#etcd
          .watch({ key: owner, startRevision: current.modRevision + 1n, signal: stop.signal }, (event) => {
            if (event.type === 'DELETE') resolve();
          })
          .then(resolve, reject);
      });
      let timer: NodeJS.Timeout | undefined;
      let hungUp: (() => void) | undefined;
      try {
        await payment?.takeover();
        await this.#etcd.txn([], [{ put: { key: this.#takeoverKey(id), value: holder, lease: lease.id } }]);
        await Promise.race([
          gone,
          // Re-ask after a lease's time (the holder may have missed the request across a restart).
          new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#ttlSeconds * 1000))),
          // The claiming connection's end: before, the wait ran on to the deadline with no one to answer.
          new Promise<void>((_, reject) => {
            hungUp = () => reject(toFerryError(signal!.reason));
            if (signal?.aborted) hungUp();
            else signal?.addEventListener('abort', hungUp, { once: true });
          }),
        ]);
      } catch (err) {
        // The request must not outlive the claim (it would still make the holder let go): withdrawn.
        await this.#withdraw(id, holder);
        throw err;
      } finally {
        clearTimeout(timer);
        if (hungUp) signal?.removeEventListener('abort', hungUp);
        stop.abort();
      }
    }
  }

  /** Deletes the takeover request of `id` if it is still `holder`'s; etcd unreachable: it goes with the lease. */
  async #withdraw(id: string, holder: string): Promise<void> {
    await this.#etcd
      .txn(
        [{ key: this.#takeoverKey(id), target: 'VALUE', result: 'EQUAL', value: holder }],
        [{ delete: { key: this.#takeoverKey(id) } }],
      )
      .catch(() => undefined);
  }

  async #release(id: string, holder: string): Promise<void> {
    if (this.#held.get(id)?.holder === holder) this.#held.delete(id);
    try {
      await this.#etcd.txn(
        [{ key: this.#ownerKey(id), target: 'VALUE', result: 'EQUAL', value: holder }],
        [{ delete: { key: this.#ownerKey(id) } }],
      );
    } catch {
      // etcd unreachable: the key goes with our lease, which is then not renewed (see #renew).
    }
  }

  /** The server's lease, granted (with its takeover watch and renewal) on first use or after a loss. */
  #currentLease(): Promise<Lease> {
    this.#lease ??= this.#grant().catch((err: unknown) => {
      this.#lease = undefined;
      throw err;
    });
    return this.#lease;
  }

  async #grant(): Promise<Lease> {
    const id = await this.#etcd.grant(this.#ttlSeconds);
    const { revision } = await this.#etcd.range(this.#takeoverKey(''), prefixEnd(this.#takeoverKey('')));
    const stopWatch = new AbortController();
    const lease: Lease = {
      id,
      stopWatch,
      lastRenewedMs: Date.now(),
      renew: setInterval(() => void this.#renew(lease), (this.#ttlSeconds * 1000) / 4),
    };
    lease.renew.unref();
    const takeovers = this.#takeoverKey('');
    void this.#watchTakeovers(lease, takeovers, revision + 1n);
    return lease;
  }

  /**
   * Watches `takeovers` for requests against claims this server holds. A stream that breaks after it was
   * open (fetch ends idle bodies after some minutes) is opened again from the next revision, so no request
   * is missed; one that cannot be opened means etcd is unreachable, and a server that cannot hear takeover
   * requests must not keep writing: it gives every claim up.
   */
  async #watchTakeovers(lease: Lease, takeovers: string, from: bigint): Promise<void> {
    let next = from;
    for (;;) {
      let opened = false;
      try {
        await this.#etcd.watch(
          {
            key: takeovers,
            rangeEnd: prefixEnd(takeovers),
            startRevision: next,
            signal: lease.stopWatch.signal,
            onOpen: () => (opened = true),
          },
          (event) => {
            next = event.kv.modRevision + 1n;
            if (event.type !== 'PUT') return;
            const transferId = event.kv.key.slice(takeovers.length);
            const held = this.#held.get(transferId);
            if (held === undefined || held.holder === event.kv.value) return;
            this.#held.delete(transferId);
            held.onLost();
          },
        );
        if (lease.stopWatch.signal.aborted) return;
      } catch {
        if (lease.stopWatch.signal.aborted) return;
        if (!opened) {
          this.#loseLease(lease);
          return;
        }
      }
    }
  }

  async #renew(lease: Lease): Promise<void> {
    try {
      const ttl = await this.#etcd.keepAlive(lease.id);
      if (ttl <= 0) this.#loseLease(lease);
      else lease.lastRenewedMs = Date.now();
    } catch {
      // Give up well before etcd expires the lease (TTL counted from the last renewal it saw): half the TTL.
      if (Date.now() - lease.lastRenewedMs > (this.#ttlSeconds * 1000) / 2) this.#loseLease(lease);
    }
  }

  /** Stops vouching for every claim under `lease`: each holder is told to stop writing. */
  #loseLease(lease: Lease): void {
    clearInterval(lease.renew);
    lease.stopWatch.abort();
    void this.#lease?.then((current) => {
      if (current === lease) this.#lease = undefined;
    });
    const held = [...this.#held.values()];
    this.#held.clear();
    for (const claim of held) claim.onLost();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const lease = await this.#lease?.catch(() => undefined);
    if (lease === undefined) return;
    clearInterval(lease.renew);
    lease.stopWatch.abort();
    this.#held.clear();
    this.#lease = undefined;
    // Revoking deletes every key under the lease at once: other servers need not wait for its TTL.
    await this.#etcd.revoke(lease.id).catch(() => undefined);
  }
}
