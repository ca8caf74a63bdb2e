// Admission in a cluster (docs/ARCHITECTURE.md, "Admission in a cluster"): with `--coordination`, etcd is
// the one source of who may connect. Every server admits against the etcd allow-list (kept current by a
// watch, failing closed while etcd cannot be read), pairs against invites kept in etcd, and ends the live
// sessions of a key revoked through any server.
import type { Logger } from 'pino';
import { FerryError } from '../errors/index.js';
import { CLUSTER_REFUSAL_DETAIL } from '../protocol/index.js';
import type { AllowList } from '../home/index.js';
import { allowListAuthorize } from './allow-list-authorize.js';
import { EtcdAllowList, type EtcdAllowListOptions } from './etcd-allow-list.js';
import type { EtcdGateway } from './etcd-gateway.js';
import { EtcdInviteStore } from './etcd-invite-store.js';
import type { PairingStores } from './pairing-admission.js';
import type { Authorize } from './session-io.js';

/** What a revoke needs of a server: ending the live sessions of the keys it took away (`FerryServer`). */
export interface SessionEnder {
  endSessions(shouldEnd: (clientKey: Buffer) => boolean, error: FerryError): number;
}

/** The allow-list and invites of a cluster, in etcd under one prefix, and how a server uses them. */
export class ClusterAdmission {
  readonly allowList: EtcdAllowList;
  readonly invites: EtcdInviteStore;
  /** The `ServeOptions.authorize` of a cluster's server: the etcd allow-list, failing closed (SERVER_BUSY). */
  readonly authorize: Authorize;
  /** The `PairingOptions.stores` of a cluster's server: invites and allow-list in etcd. */
  readonly pairingStores: PairingStores;
  readonly #detach: (() => void)[] = [];

  /** `prefix`: the cluster's key prefix (`--coordination etcd://HOST:PORT/PREFIX`). */
  constructor(etcd: EtcdGateway, prefix: string, options: EtcdAllowListOptions = {}) {
    this.allowList = new EtcdAllowList(etcd, prefix, options);
    this.invites = new EtcdInviteStore(etcd, prefix);
    const lookUp = allowListAuthorize(this.allowList);
    // PROTOCOL.md §3.2.2: the refusal says the list is the cluster's, for the client to name the command
    // that admits it here (`ferry allow --coordination ...`, not `ferry allow` in a home, which no server reads).
    this.authorize = async (publicKey) => {
      const grant = await lookUp(publicKey);
      if (grant === undefined) throw new FerryError('CLIENT_NOT_ALLOWED', CLUSTER_REFUSAL_DETAIL);
      return grant;
    };
    this.pairingStores = {
      consumeInvite: (id, opts) => this.invites.consume(id, opts),
      allow: (id, opts) => this.allowList.allow(id, opts),
    };
  }

  /**
   * Ties a running server to the shared list: each change heard ends the live sessions of keys no longer
   * on it (CLIENT_NOT_ALLOWED, stricter than OpenSSH: docs/SECURITY.md), and an etcd outage is logged once
   * when it starts and once when it ends (not per refused connection). Reads the list now, so an outage
   * at start is logged too.
   */
  attach(server: SessionEnder, logger: Logger): void {
    const onChange = (list: AllowList): void => {
      // The count only: who was allowed or revoked is the operator's command's to say, not every server's.
      logger.info({ event: 'allow-list-changed', clients: list.clients.length }, 'allow-list changed');
      const ended = server.endSessions(
        (key) => list.find(key) === undefined,
        new FerryError('CLIENT_NOT_ALLOWED', CLUSTER_REFUSAL_DETAIL),
      );
      if (ended > 0)
        logger.warn(
          { event: 'sessions-revoked', code: 'CLIENT_NOT_ALLOWED', sessions: ended },
          'ended the live sessions of revoked client keys',
        );
    };
    const onUnwatched = (): void =>
      logger.warn(
        { event: 'admission-unavailable', code: 'SERVER_BUSY' },
        'cannot read the allow-list from etcd: refusing every client (SERVER_BUSY) until it answers',
      );
    const onWatched = (): void =>
      logger.info({ event: 'admission-available' }, 'allow-list readable from etcd again');
    this.allowList.events.on('change', onChange);
    this.allowList.events.on('unwatched', onUnwatched);
    this.allowList.events.on('watched', onWatched);
    this.#detach.push(() => {
      this.allowList.events.off('change', onChange);
      this.allowList.events.off('unwatched', onUnwatched);
      this.allowList.events.off('watched', onWatched);
    });
    this.allowList.current().catch(() => undefined);
  }

  /** Stops watching and detaches from every server. Idempotent. */
  close(): void {
    for (const detach of this.#detach.splice(0)) detach();
    this.allowList.close();
  }
}
