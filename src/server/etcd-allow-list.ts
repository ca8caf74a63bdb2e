// The allow-list of a cluster kept in etcd (docs/ARCHITECTURE.md, "Coordination"): one key holding the
// same document as `allowed-clients.json`, changed only by compare-and-swap so that two servers changing it
// at once lose neither change, and watched by every server so a change through one is seen by all.
import { EventEmitter } from 'node:events';
import { FerryError } from '../errors/index.js';
import { AllowList, type AllowedClient } from '../home/index.js';
import type { EtcdGateway } from './etcd-gateway.js';

/** How many times an update is retried after losing a race, before it fails SERVER_BUSY. */
const MAX_UPDATE_ATTEMPTS = 32;

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
   * Emits `change` with the new AllowList each time the watched key changes, and `unwatched` when the
   * watch broke (the next `current()` reads etcd again, and fails closed while it cannot).
   */
  readonly events = new EventEmitter<{ change: [AllowList]; unwatched: [] }>();
  #snapshot: Snapshot | undefined;
  #syncing: Promise<Snapshot> | undefined;
  #watch: AbortController | undefined;

  /** `prefix`: the cluster's key prefix (as for transfer ownership); the list is at `<prefix>allow-list`. */
  constructor(etcd: EtcdGateway, prefix: string) {
    this.#etcd = etcd;
    this.#key = `${prefix}allow-list`;
  }

  /**
   * The allow-list as etcd has it, kept current by a watch. Fails closed: while etcd cannot be reached
   * (the watch broke and a fresh read fails) this rejects SERVER_BUSY, so no session is admitted on a
   * list that may have been revoked meanwhile.
   */
  async current(): Promise<AllowList> {
    if (this.#snapshot !== undefined) return this.#snapshot.list;
    this.#syncing ??= this.#sync().finally(() => (this.#syncing = undefined));
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
        if (this.#watch !== watch) return;
        this.#snapshot = undefined;
        this.events.emit('unwatched');
      });
    return snapshot;
  }

  /**
   * Changes the list with `change` (given the current entries, returns the new ones) by compare-and-swap:
   * read, change, write only if the key still holds what was read; on a lost race, read again and re-apply.
   * So concurrent updates through different servers are all kept. Resolves to the list written.
   */
  async update(change: (clients: readonly AllowedClient[]) => AllowedClient[]): Promise<AllowList> {
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const { kvs } = await this.#etcd.range(this.#key);
      const raw = kvs[0]?.value;
      const next = AllowList.fromClients(change(parse(raw).clients));
      const value = JSON.stringify({ version: 1, clients: next.clients });
      const written = await this.#etcd.txn(
        [
          raw === undefined
            ? { key: this.#key, target: 'VERSION', result: 'EQUAL', version: '0' }
            : { key: this.#key, target: 'VALUE', result: 'EQUAL', value: raw },
        ],
        [{ put: { key: this.#key, value } }],
      );
      if (written.succeeded) return next;
    }
    throw new FerryError('SERVER_BUSY', 'the allow-list kept changing under this update');
  }

  /** Stops watching. */
  close(): void {
    this.#watch?.abort();
    this.#watch = undefined;
    this.#snapshot = undefined;
  }
}
