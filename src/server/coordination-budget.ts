import { RateBudget } from './hash-budget.js';

/**
 * Requests to the coordination service (etcd) one client's uploads may cause per second on average, past
 * its burst. An upload nobody else holds costs 3 (the claim, clearing its own takeover request, the release
 * at its end), so the burst covers a 3,300-file tree sent in batches at once and the rate 330 files a second
 * after it: more than this etcd takes from one server in practice.
 */
export const COORDINATION_REQUESTS_PER_SECOND = 1000;
export const COORDINATION_REQUESTS_BURST = 10_000;
/** The same for every client of this server together. */
export const COORDINATION_REQUESTS_TOTAL_PER_SECOND = 4 * COORDINATION_REQUESTS_PER_SECOND;
export const COORDINATION_REQUESTS_TOTAL_BURST = 4 * COORDINATION_REQUESTS_BURST;

/**
 * Takeovers across servers (a claim that finds another server holding the transfer and asks it to let go)
 * one client may start per second on average, past its burst. An honest client takes a transfer over from
 * another server only when a cut session's retry lands on a different server: at most once per session it
 * had open (32 per client). A client bouncing one offer between two servers did it as fast as etcd answered,
 * each round a takeover request, a watch, the holder's surrender and release there and a new claim here.
 */
export const CROSS_SERVER_TAKEOVERS_PER_SECOND = 4;
export const CROSS_SERVER_TAKEOVERS_BURST = 64;
export const CROSS_SERVER_TAKEOVERS_TOTAL_PER_SECOND = 10 * CROSS_SERVER_TAKEOVERS_PER_SECOND;
export const CROSS_SERVER_TAKEOVERS_TOTAL_BURST = 10 * CROSS_SERVER_TAKEOVERS_BURST;

/** What one takeover round costs in requests besides the claim's own: the request, its re-claim, the holder's release. */
export const TAKEOVER_REQUESTS = 3;
/** What a claim costs up front: the claim, clearing its own takeover request, the release at its end. */
export const CLAIM_REQUESTS = 3;

export interface CoordinationBudgetOptions {
  requestsPerSecond?: number;
  requestsBurst?: number;
  totalRequestsPerSecond?: number;
  totalRequestsBurst?: number;
  takeoversPerSecond?: number;
  takeoversBurst?: number;
  totalTakeoversPerSecond?: number;
  totalTakeoversBurst?: number;
  /** The clock and the wait, injected by tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** What a claim pays as the ownership port works for it (TransferOwnership.acquire). */
export interface ClaimPayment {
  /** Before the claim's first request: CLAIM_REQUESTS. */
  claim(): Promise<void>;
  /** Before each request that another server let go of the transfer: a takeover and TAKEOVER_REQUESTS. */
  takeover(): Promise<void>;
}

/**
 * The coordination service's budget (docs/SECURITY.md "Admission in a cluster"): every request a client's
 * upload causes there, and every takeover across servers, paid per client and by all clients together
 * before it goes (`RateBudget`: past the burst a claim waits, never refused, so an honest client's tree is
 * only slower). Per server: a cluster of N servers lets one client cause at most N times this.
 */
export class CoordinationBudget {
  readonly #requests: RateBudget;
  readonly #takeovers: RateBudget;

  constructor(options: CoordinationBudgetOptions = {}) {
    this.#requests = new RateBudget({
      perClientPerSecond: options.requestsPerSecond ?? COORDINATION_REQUESTS_PER_SECOND,
      perClientBurst: options.requestsBurst ?? COORDINATION_REQUESTS_BURST,
      totalPerSecond: options.totalRequestsPerSecond ?? COORDINATION_REQUESTS_TOTAL_PER_SECOND,
      totalBurst: options.totalRequestsBurst ?? COORDINATION_REQUESTS_TOTAL_BURST,
      now: options.now,
      sleep: options.sleep,
    });
    this.#takeovers = new RateBudget({
      perClientPerSecond: options.takeoversPerSecond ?? CROSS_SERVER_TAKEOVERS_PER_SECOND,
      perClientBurst: options.takeoversBurst ?? CROSS_SERVER_TAKEOVERS_BURST,
      totalPerSecond: options.totalTakeoversPerSecond ?? CROSS_SERVER_TAKEOVERS_TOTAL_PER_SECOND,
      totalBurst: options.totalTakeoversBurst ?? CROSS_SERVER_TAKEOVERS_TOTAL_BURST,
      now: options.now,
      sleep: options.sleep,
    });
  }

  /**
   * The payment of one claim of `clientKey`'s. With `signal` (its connection's), a wait for the budget ends
   * with the signal's reason once it aborts, as the hashing budget's: a client in debt that hangs up leaves no
   * claim waiting (and holding its offer's session open) until its debt is paid.
   */
  paymentFor(clientKey: Buffer, signal?: AbortSignal): ClaimPayment {
    const client = clientKey.toString('hex');
    return {
      claim: () => this.#requests.spend(client, CLAIM_REQUESTS, signal),
      takeover: async () => {
        await this.#takeovers.spend(client, 1, signal);
        await this.#requests.spend(client, TAKEOVER_REQUESTS, signal);
      },
    };
  }
}
