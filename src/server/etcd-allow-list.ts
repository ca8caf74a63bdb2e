// The allow-list of a cluster kept in etcd (docs/ARCHITECTURE.md, "Coordination"): one key holding the
// same document as `allowed-clients.json`, changed only by compare-and-swap so that two servers changing it
// at once lose neither change, and watched by every server so a change through one is seen by all.
import { EventEmitter } from 'node:events';
import { FerryError } from '../errors/index.js';
import {
  AllowList,
  withClientAllowed,
  withoutClient,
  type AllowClientOptions,
  type AllowedClient,
} from '../home/index.js';
import type { EtcdCompare, EtcdGateway } from './etcd-gateway.js';

/** How many times an update is retried after losing a race, before it fails SERVER_BUSY. */
const MAX_UPDATE_ATTEMPTS = 32;
/** How often a server whose watch broke tries to read the list and watch it again (default). */
export const ALLOW_LIST_RESYNC_INTERVAL_MS = 1000;

/** Options for {@link EtcdAllowList}. */
export interface EtcdAllowListOptions {
  /**
   * After the watch broke, read etcd again this often until it answers (so a revoke made meanwhile ends
   * live sessions without waiting for a new connection); 0 only re-reads when `current()` is called.
   */
  resyncIntervalMs?: number;
}

interface Snapshot {
  readonly list: AllowList;
  /** The key's raw value as read (the compare of the next update), undefined when absent. */
  readonly raw: string | undefined;
}

function parse(raw: string | undefined): AllowList {
  if (raw === undefined) return AllowList.fromClients([]);
  const doc = JSON.parse(raw) as { clients?: AllowedClient[] };
  return AllowList.fromClients(doc.clients ?? []);
}

export class EtcdAllowList {
  readonly #etcd: EtcdGateway;
  readonly #key: string;
  /**
   * Emits `change` with the new AllowList each time the watched key changes (and once more when a
   * broken watch is back, since changes made meanwhile were not heard), `unwatched` once when the watch
   * broke (`current()` then reads etcd again, and fails closed while it cannot), and `watched` once it is
   * back.
   */
  readonly events = new EventEmitter<{ change: [AllowList]; unwatched: []; watched: [] }>();
  readonly #resyncIntervalMs: number;
  #snapshot: Snapshot | undefined;
  #syncing: Promise<Snapshot> | undefined;
  #watch: AbortController | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  /** The watch broke and has not been re-established yet. */
  #broken = false;
  #closed = false;

  /** `prefix`: the cluster's key prefix (as for transfer ownership); the list is at `<prefix>allow-list`. */
  constructor(etcd: EtcdGateway, prefix: string, options: EtcdAllowListOptions = {}) {
    this.#etcd = etcd;
    this.#key = `${prefix}allow-list`;
    this.#resyncIntervalMs = options.resyncIntervalMs ?? ALLOW_LIST_RESYNC_INTERVAL_MS;
  }

  /**
   * The allow-list as etcd has it, kept current by a watch. Fails closed: while etcd cannot be reached
   * (the watch broke and a fresh read fails) this rejects SERVER_BUSY, so no session is admitted on a
   * list that may have been revoked meanwhile.
   */
  async current(): Promise<AllowList> {
    if (this.#snapshot !== undefined) return this.#snapshot.list;
    this.#syncing ??= this.#sync()
      .catch((err: unknown) => {
        this.#markBroken();
        throw err;
      })
      .finally(() => (this.#syncing = undefined));
    return (await this.#syncing).list;
  }

  async #sync(): Promise<Snapshot> {
    const { kvs, revision } = await this.#etcd.range(this.#key);
    const raw = kvs[0]?.value;
    const snapshot = { list: parse(raw), raw };
    const watch = new AbortController();
    this.#watch?.abort();
    this.#watch = watch;
    this.#snapshot = snapshot;
    if (this.#broken) {
      this.#broken = false;
      clearTimeout(this.#resyncTimer);
      this.events.emit('watched');
      // Whatever changed while the watch was down (a revoke) is acted on now.
      this.events.emit('change', snapshot.list);
    }
    void this.#etcd
      .watch({ key: this.#key, startRevision: revision + 1n, signal: watch.signal }, (event) => {
        const value = event.type === 'DELETE' ? undefined : event.kv.value;
        try {
          this.#snapshot = { list: parse(value), raw: value };
        } catch {
          // A value that is not a valid list admits nobody until it is fixed (fail closed).
          this.#snapshot = { list: AllowList.fromClients([]), raw: value };
        }
        this.events.emit('change', this.#snapshot.list);
      })
      .catch(() => {
        // Cannot hear changes any more (a revoke could be missed): forget the snapshot, re-read next time.
        if (this.#watch !== watch || this.#closed) return;
        this.#snapshot = undefined;
        this.#markBroken();
      });
    return snapshot;
  }

  /** The list cannot be heard or read: `unwatched` once per outage, then a read again every interval. */
  #markBroken(): void {
    if (this.#closed) return;
    if (!this.#broken) {
      this.#broken = true;
      this.events.emit('unwatched');
    }
    if (this.#resyncIntervalMs <= 0) return;
    clearTimeout(this.#resyncTimer);
    this.#resyncTimer = setTimeout(() => {
      // A failed read marks it broken again, which schedules the next one.
      if (this.#broken && !this.#closed) this.current().catch(() => undefined);
    }, this.#resyncIntervalMs).unref();
  }

  /**
   * Changes the list with `change` (given the current entries, returns the new ones) by compare-and-swap:
   * read, change, write only if the key still holds what was read; on a lost race, read again and re-apply.
   * So concurrent updates through different servers are all kept. Resolves to the list written.
   */
  async update(change: (clients: readonly AllowedClient[]) => AllowedClient[]): Promise<AllowList> {
    let raw = (await this.#etcd.range(this.#key)).kvs[0]?.value;
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const next = AllowList.fromClients(change(parse(raw).clients));
      const value = JSON.stringify({ version: 1, clients: next.clients });
      // A lost race reads the winner's value in the same transaction: one round trip per attempt.
      const written = await this.#etcd.txn(
        [this.#unchangedSince(raw)],
        [{ put: { key: this.#key, value } }],
        [{ range: { key: this.#key } }],
      );
      if (written.succeeded) return next;
      raw = written.kvs[0]?.value;
    }
    throw new FerryError('SERVER_BUSY', 'the allow-list kept changing under this update');
  }

  /** The compare of a compare-and-swap: the key still holds `raw` (or is still absent). */
  #unchangedSince(raw: string | undefined): EtcdCompare {
    return raw === undefined
      ? { key: this.#key, target: 'VERSION', result: 'EQUAL', version: '0' }
      : { key: this.#key, target: 'VALUE', result: 'EQUAL', value: raw };
  }

  /**
   * `ferry allow` on a cluster: adds `id` or updates its entry by the same rule as the home's file
   * (`withClientAllowed`), by compare-and-swap.
   */
  async allow(
    id: string,
    options: Omit<AllowClientOptions, 'signal'> = {},
  ): Promise<{ client: AllowedClient; added: boolean }> {
    let outcome: { client: AllowedClient; added: boolean } | undefined;
    await this.update((clients) => {
      const result = withClientAllowed(clients, id, options);
      outcome = { client: result.client, added: result.added };
      return result.clients;
    });
    return outcome!;
  }

  /** `ferry revoke` on a cluster: removes `id`; false when it was not on the list (nothing written then). */
  async revoke(id: string): Promise<boolean> {
    withoutClient([], id);
    let raw = (await this.#etcd.range(this.#key)).kvs[0]?.value;
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const { clients, removed } = withoutClient(parse(raw).clients, id);
      if (!removed) return false;
      const value = JSON.stringify({ version: 1, clients });
      const written = await this.#etcd.txn(
        [this.#unchangedSince(raw)],
        [{ put: { key: this.#key, value } }],
        [{ range: { key: this.#key } }],
      );
      if (written.succeeded) return true;
      raw = written.kvs[0]?.value;
    }
    throw new FerryError('SERVER_BUSY', 'the allow-list kept changing under this update');
  }

  /** The list as etcd has it now (one read, no watch): for `ferry clients` on a cluster. */
  async read(): Promise<AllowList> {
    const { kvs } = await this.#etcd.range(this.#key);
    return parse(kvs[0]?.value);
  }

  /** Stops watching. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#resyncTimer);
    this.#watch?.abort();
    this.#watch = undefined;
    this.#snapshot = undefined;
  }
}
