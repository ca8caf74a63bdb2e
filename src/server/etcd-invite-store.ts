// A cluster's pairing invites in etcd (docs/ARCHITECTURE.md, "Admission in a cluster"; docs/SECURITY.md,
// "Pairing in a cluster"): behind HAProxy the operator cannot choose which server a client reaches, so an
// invite created through one server must be redeemable through any. One key per invite, created only if
// absent, under a lease as long as the invite lives (etcd drops it when it expires), and taken by one
// transaction that reads and deletes it: of two servers redeeming one code at once, exactly one gets it.
import { FerryError } from '../errors/index.js';
import {
  MAX_LIVE_INVITES,
  consumedInviteOf,
  inviteInfoOf,
  inviteRecordFromJson,
  isInviteExpired,
  newInviteRecord,
  type ConsumedInvite,
  type CreateInviteOptions,
  type InviteInfo,
  type InviteRecord,
  type InviteStoreOptions,
} from '../home/index.js';
import { prefixEnd, type EtcdGateway } from './etcd-gateway.js';

/** A freshly drawn invite id that another server took meanwhile is drawn again, this many times at most. */
const MAX_CREATE_ATTEMPTS = 8;

/** The invite store of a cluster: the same operations as the home's `invites.json`, kept in etcd. */
export class EtcdInviteStore {
  readonly #etcd: EtcdGateway;
  readonly #prefix: string;

  /** `prefix`: the cluster's key prefix; invites are at `<prefix>invites/<id>`. */
  constructor(etcd: EtcdGateway, prefix: string) {
    this.#etcd = etcd;
    this.#prefix = `${prefix}invites/`;
  }

  async #records(): Promise<InviteRecord[]> {
    const { kvs } = await this.#etcd.range(this.#prefix, prefixEnd(this.#prefix));
    return kvs.map((kv) => inviteRecordFromJson(JSON.parse(kv.value), `etcd ${kv.key}`));
  }

  /**
   * Creates an invite (same rules as `createInvite`): USAGE_INVALID when {@link MAX_LIVE_INVITES} are live.
   * The key is written only if absent, under a lease that ends with the invite.
   */
  async create(
    options: Omit<CreateInviteOptions, 'signal'> = {},
  ): Promise<{ code: string; id: string; expiresAt: string }> {
    const now = (options.now ?? (() => new Date()))();
    for (let attempt = 0; attempt < MAX_CREATE_ATTEMPTS; attempt++) {
      const live = (await this.#records()).filter((invite) => !isInviteExpired(invite, now));
      if (live.length >= MAX_LIVE_INVITES)
        throw new FerryError(
          'USAGE_INVALID',
          `${live.length} invites are open, the most allowed; revoke some or let them expire`,
        );
      const taken = new Set(live.map((invite) => invite.id));
      const { record, code } = newInviteRecord({ ...options, now: () => now }, (id) => taken.has(id));
      const key = `${this.#prefix}${record.id}`;
      // etcd counts lease TTLs in whole seconds; the record's expiresAt stays the rule, the lease only cleans up.
      const ttlSeconds = Math.ceil((Date.parse(record.expiresAt) - now.getTime()) / 1000) + 1;
      const lease = await this.#etcd.grant(ttlSeconds);
      const written = await this.#etcd.txn(
        [{ key, target: 'VERSION', result: 'EQUAL', version: '0' }],
        [{ put: { key, value: JSON.stringify(record), lease } }],
      );
      if (written.succeeded) return { code, id: record.id, expiresAt: record.expiresAt };
      await this.#etcd.revoke(lease).catch(() => undefined);
    }
    throw new FerryError('SERVER_BUSY', 'could not draw a free invite id');
  }

  /**
   * Takes the invite out of etcd in one transaction (read and delete, only if it exists), so of any number
   * of servers redeeming one code at once exactly one gets it (PROTOCOL.md §12.5 step 3, across servers).
   * INVITE_INVALID when there is none, INVITE_EXPIRED when it had expired (taken out all the same).
   */
  async consume(inviteId: string, options: InviteStoreOptions = {}): Promise<ConsumedInvite> {
    const now = (options.now ?? (() => new Date()))();
    const key = `${this.#prefix}${inviteId}`;
    const taken = await this.#etcd.txn(
      [{ key, target: 'VERSION', result: 'NOT_EQUAL', version: '0' }],
      [{ range: { key } }, { delete: { key } }],
    );
    const kv = taken.succeeded ? taken.kvs[0] : undefined;
    if (kv === undefined) throw new FerryError('INVITE_INVALID', `no invite ${JSON.stringify(inviteId)}`);
    const record = inviteRecordFromJson(JSON.parse(kv.value), `etcd ${kv.key}`);
    if (isInviteExpired(record, now))
      throw new FerryError('INVITE_EXPIRED', `invite ${record.id} expired at ${record.expiresAt}`);
    return consumedInviteOf(record);
  }

  /** The live invites without their secrets, in creation order. */
  async list(options: InviteStoreOptions = {}): Promise<InviteInfo[]> {
    const now = (options.now ?? (() => new Date()))();
    return (await this.#records())
      .filter((invite) => !isInviteExpired(invite, now))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map(inviteInfoOf);
  }

  /** Removes an invite; false when there was none with that id. */
  async revoke(inviteId: string): Promise<boolean> {
    const key = `${this.#prefix}${inviteId}`;
    const removed = await this.#etcd.txn(
      [{ key, target: 'VERSION', result: 'NOT_EQUAL', version: '0' }],
      [{ delete: { key } }],
    );
    return removed.succeeded;
  }
}
