import type { Logger } from 'pino';
import { FerryError, toFerryError } from '../errors/index.js';
import { formatFerryId } from '../crypto/index.js';
import { decodePairMessage, errorMessageFor } from '../protocol/index.js';
import { PairingServer } from '../machines/pairing-server.js';
import type { SecureChannel } from '../channel/index.js';
import {
  allowClient,
  consumeInvite,
  type AllowedClient,
  type ConsumedInvite,
  type InviteStoreOptions,
  type Permission,
} from '../home/index.js';
import type { ClientGrant } from './session-io.js';
import { grantOf } from './allow-list-authorize.js';

/** Pairing sessions (PROTOCOL.md §12) a server runs at once by default; more get SERVER_BUSY. */
export const MAX_CONCURRENT_PAIRINGS = 4;
/** Pairing sessions a server starts per minute by default; more get SERVER_BUSY (§12.5, rate limit). */
export const MAX_PAIRINGS_PER_MINUTE = 30;
/**
 * Of those, what one source (`sourceOf`: an IPv4 address, an IPv6 /64) may hold at once and start per minute:
 * without them one source held all four slots for a handshake timeout each, or spent the minute's thirty, and
 * nobody else could pair. An honest user pairs once, and retries a typo or two.
 */
export const MAX_CONCURRENT_PAIRINGS_PER_SOURCE = 1;
export const MAX_PAIRINGS_PER_MINUTE_PER_SOURCE = 5;

const MINUTE_MS = 60_000;

/**
 * Where pairing takes invites from and allows the paired client: a cluster's etcd (`ClusterAdmission`)
 * instead of the home's files, so a code created through any server is redeemed through any other, once.
 */
export interface PairingStores {
  /** Takes the invite out, atomically (INVITE_INVALID / INVITE_EXPIRED as `consumeInvite`). */
  consumeInvite(inviteId: string, options: InviteStoreOptions): Promise<ConsumedInvite>;
  /** Allows the client key (the same rule as `ferry allow`), durably, before it returns. */
  allow(
    id: string,
    options: { permissions: readonly Permission[]; name?: string },
  ): Promise<{ client: AllowedClient }>;
}

/** How a server accepts pairing sessions (`ServeOptions.pairing`). */
export interface PairingOptions {
  /** The home whose invite store (`invites.json`) and allow-list pairing reads and writes. */
  homeDir: string;
  /** Invites and allow-list elsewhere than `homeDir` (a cluster's etcd); the home's files when absent. */
  stores?: PairingStores;
  /** Pairing sessions at once; default {@link MAX_CONCURRENT_PAIRINGS}. */
  maxConcurrent?: number;
  /** Pairing sessions started per sliding minute; default {@link MAX_PAIRINGS_PER_MINUTE}. */
  maxPerMinute?: number;
  /** Of those, at once from one source; default {@link MAX_CONCURRENT_PAIRINGS_PER_SOURCE}. */
  maxConcurrentPerSource?: number;
  /** Of those, started per sliding minute from one source; default {@link MAX_PAIRINGS_PER_MINUTE_PER_SOURCE}. */
  maxPerMinutePerSource?: number;
  /** The clock for the rate limit and invite expiry, injected by tests. */
  now?: () => Date;
}

/** What one pairing attempt needs from its session. */
export interface PairingAttempt {
  channel: SecureChannel;
  /** The server's static public key (the other half of CPace's channel identifier). */
  serverPublicKey: Buffer;
  log: Logger;
  /** When the connection was accepted (ms since the epoch): the deadline counts from here (§12.5 step 1). */
  acceptedAt: number;
  /** The whole exchange up to PAIR_DONE must end within this many ms of `acceptedAt`. */
  timeoutMs: number;
  /** Where the connection came from (`sourceOf` of its address): the per-source limits count by it. */
  source: string;
  signal?: AbortSignal | undefined;
}

/**
 * The server's side of pairing (PROTOCOL.md §12.5), shared by every session of one server: it bounds how
 * many pairings run at once and per minute, consumes the invite named by PAIR_HELLO, runs the sans-IO
 * {@link PairingServer} over raw record plaintexts, and on success allow-lists the client **before** it
 * sends PAIR_DONE. It reads and writes the home only (invite store, allow-list), never the root.
 */
export class PairingAdmission {
  readonly #homeDir: string;
  readonly #stores: PairingStores | undefined;
  readonly #maxConcurrent: number;
  readonly #maxPerMinute: number;
  readonly #now: () => Date;
  /** Start times of the pairings of the last minute, oldest first. */
  readonly #recentStarts: number[] = [];
  #active = 0;
  readonly #maxConcurrentPerSource: number;
  readonly #maxPerMinutePerSource: number;
  /**
   * Per source with a pairing running or started within the minute: how many run, and their start times.
   * Bounded: every entry holds a start of the last minute or a running pairing, so at most the minute's
   * limit plus the concurrent one.
   */
  readonly #bySource = new Map<string, { active: number; starts: number[] }>();
  // allowClient is a read-modify-write of the allow-list: concurrent pairings in this process take turns.
  #allowQueue: Promise<unknown> = Promise.resolve();

  constructor(options: PairingOptions) {
    this.#homeDir = options.homeDir;
    this.#stores = options.stores;
    this.#maxConcurrent = options.maxConcurrent ?? MAX_CONCURRENT_PAIRINGS;
    this.#maxPerMinute = options.maxPerMinute ?? MAX_PAIRINGS_PER_MINUTE;
    this.#maxConcurrentPerSource = options.maxConcurrentPerSource ?? MAX_CONCURRENT_PAIRINGS_PER_SOURCE;
    this.#maxPerMinutePerSource = options.maxPerMinutePerSource ?? MAX_PAIRINGS_PER_MINUTE_PER_SOURCE;
    this.#now = options.now ?? (() => new Date());
  }

  /** Pairing sessions running now. */
  get active(): number {
    return this.#active;
  }

  /**
   * Runs one pairing on a mode-1 session and returns the grant of the newly allowed client; the session
   * then continues as an admitted one (WELCOME next, §12.5 step 6). On failure it has already sent the
   * ERROR and closed the channel, logs the outcome (never the code or a secret), and throws the error.
   */
  async admit(attempt: PairingAttempt): Promise<ClientGrant> {
    const { channel, log } = attempt;
    if (!this.#takeSlot(attempt.source)) {
      log.warn({ event: 'pairing-refused', code: 'SERVER_BUSY', active: this.#active }, 'pairing refused');
      return fail(channel, new FerryError('SERVER_BUSY', 'too many pairing attempts; try again shortly'));
    }
    log.debug({ event: 'pairing-started', active: this.#active }, 'pairing started');
    const remainingMs = Math.max(0, attempt.acceptedAt + attempt.timeoutMs - Date.now());
    // §12.5 step 1: the whole exchange ends within the handshake timeout counted from accept.
    const timer = setTimeout(
      () => channel.close(new FerryError('TIMEOUT', `pairing not done within ${attempt.timeoutMs} ms`)),
      remainingMs,
    );
    let inviteId: string | undefined;
    try {
      // §12.5 step 2: PAIR_HELLO first; anything else (a PUT_OFFER...) is refused before any file is touched.
      const hello = await channel.receive((plaintext) => decodePairMessage(plaintext, 'PAIR_HELLO'));
      inviteId = hello.inviteId;
      const invite = await this.#consume(inviteId, log, attempt.signal);
      const pairing = new PairingServer({
        sid: channel.handshakeHash,
        clientStaticKey: channel.remotePublicKey,
        serverStaticKey: attempt.serverPublicKey,
        secret: invite?.secret,
      });
      invite?.dispose();
      try {
        const reply = pairing.receive(hello);
        if (reply.send === undefined) throw new FerryError('INTERNAL', 'pairing server sent no reply');
        await channel.send(reply.send);
        // §12.5 step 5: one comparison decides, whatever part of the code was wrong.
        const done = pairing.receive(
          await channel.receive((plaintext) => decodePairMessage(plaintext, 'PAIR_CONFIRM')),
        );
        if (!done.done || done.send === undefined) throw new FerryError('INTERNAL', 'pairing did not finish');
        done.result.dispose();
        // invite is undefined only for an unknown or expired id, which fails at the comparison above.
        const grant = await this.#allow(channel.remotePublicKey, invite!, attempt.signal);
        // §12.5 step 6: the allow-list change is durable before the client learns it succeeded.
        await channel.send(done.send);
        // The session's log names the peer already (a second `peer` made the line's JSON repeat a key).
        log.info({ event: 'paired', invite: inviteId, client: grant.name }, 'client paired and allowed');
        return grant;
      } finally {
        pairing.dispose();
      }
    } catch (err) {
      const error = toFerryError(err);
      log.warn(
        {
          event: 'pairing-failed',
          code: error.code,
          ...(inviteId === undefined ? {} : { invite: inviteId }),
        },
        'pairing failed',
      );
      return fail(channel, error);
    } finally {
      clearTimeout(timer);
      this.#active--;
      const source = this.#bySource.get(attempt.source);
      if (source) source.active--;
    }
  }

  #takeSlot(sourceKey: string): boolean {
    const now = this.#now().getTime();
    while (this.#recentStarts.length > 0 && this.#recentStarts[0]! <= now - MINUTE_MS)
      this.#recentStarts.shift();
    for (const [key, entry] of this.#bySource) {
      while (entry.starts.length > 0 && entry.starts[0]! <= now - MINUTE_MS) entry.starts.shift();
      if (entry.active === 0 && entry.starts.length === 0) this.#bySource.delete(key);
    }
    const source = this.#bySource.get(sourceKey) ?? { active: 0, starts: [] };
    if (
      this.#active >= this.#maxConcurrent ||
      this.#recentStarts.length >= this.#maxPerMinute ||
      source.active >= this.#maxConcurrentPerSource ||
      source.starts.length >= this.#maxPerMinutePerSource
    )
      return false;
    this.#active++;
    this.#recentStarts.push(now);
    source.active++;
    source.starts.push(now);
    this.#bySource.set(sourceKey, source);
    return true;
  }

  /**
   * §12.5 step 3: takes the invite out of the store (the one attempt). Unknown, expired or unreadable: no
   * invite, and the exchange runs on with a random stand-in secret so the client cannot tell which.
   */
  async #consume(
    inviteId: string,
    log: Logger,
    signal: AbortSignal | undefined,
  ): Promise<ConsumedInvite | undefined> {
    try {
      const options = { now: this.#now, ...(signal ? { signal } : {}) };
      return await (this.#stores
        ? this.#stores.consumeInvite(inviteId, options)
        : consumeInvite(this.#homeDir, inviteId, options));
    } catch (err) {
      const error = toFerryError(err);
      if (error.code === 'INVITE_INVALID' || error.code === 'INVITE_EXPIRED') {
        log.info(
          { event: 'pairing-invite', invite: inviteId, code: error.code },
          'no live invite for this id',
        );
      } else {
        log.error(
          { event: 'pairing-invite', invite: inviteId, code: error.code, err: error.message },
          'invite store unusable',
        );
      }
      return undefined;
    }
  }

  async #allow(
    clientKey: Buffer,
    invite: ConsumedInvite,
    signal: AbortSignal | undefined,
  ): Promise<ClientGrant> {
    const name = invite.name === undefined ? {} : { name: invite.name };
    // A cluster's list changes by compare-and-swap: no queue needed, no concurrent pairing lost.
    if (this.#stores)
      return grantOf(
        (await this.#stores.allow(formatFerryId(clientKey), { permissions: invite.permissions, ...name }))
          .client,
      );
    const run = this.#allowQueue.then(() =>
      allowClient(this.#homeDir, formatFerryId(clientKey), {
        permissions: invite.permissions,
        ...(invite.name === undefined ? {} : { name: invite.name }),
        ...(signal ? { signal } : {}),
      }),
    );
    this.#allowQueue = run.catch(() => undefined);
    const { client } = await run;
    return grantOf(client);
  }
}

/**
 * Ends a failed pairing: one ERROR with ref 0 (§12.4) unless the channel is already gone, then close.
 * PAIRING_FAILED goes without detail, so an unknown, expired or wrong code read exactly alike (§12.5 step 3).
 */
async function fail(channel: SecureChannel, error: FerryError): Promise<never> {
  if (!channel.closed && error.wireCode !== null && error.category !== 'internal') {
    // The one ERROR policy (PROTOCOL.md §5.1): the coded detail only, cut to its limit; none for PAIRING_FAILED.
    await channel
      .send(errorMessageFor(0, error))
      .then(() => channel.end())
      .catch(() => undefined);
  }
  channel.close(error);
  throw error;
}
