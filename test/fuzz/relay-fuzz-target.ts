// What the relay fuzz targets (targets/delta-relay-target.ts, targets/tree-relay-target.ts) share: a real
// server behind a hostile relay (hostile-relay.ts), the client's options through it, and the failure rule.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryError } from '../../src/errors/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FerryServer } from '../../src/server/index.js';
import type { SeededRandom } from '../helpers/seeded-random.js';
import { HostileRelay, type Change, type Victim } from './hostile-relay.js';
import { FuzzFailure, type FuzzTarget } from './run-fuzz.js';

/** The client's stall timeout: a dropped record leaves it waiting this long at most. */
const RELAY_STALL_MS = 1500;

/** A target whose inputs run a real client against a real server through a hostile relay. */
export abstract class RelayFuzzTarget implements FuzzTarget {
  readonly concurrency = 1;
  abstract readonly name: string;
  readonly #server: FerryServer;
  /** The relay the client connects to. */
  protected readonly relay: HostileRelay;
  /** The side under attack. */
  protected readonly victim: Victim;
  /** A fresh directory: the server's root is `root/` in it; inputs put their own files beside it. */
  protected readonly work: string;
  readonly #counts: Record<string, number> = {};
  /** The server's sessions open now, and who waits for none to be (`serverIdle`). */
  #sessions = 0;
  readonly #idle: Array<() => void> = [];

  protected constructor(victim: Victim, server: FerryServer, relay: HostileRelay, work: string) {
    this.victim = victim;
    this.#server = server;
    this.relay = relay;
    this.work = work;
    server.events.on('session-opened', () => this.#sessions++);
    server.events.on('session-closed', () => {
      if (--this.#sessions === 0) for (const resolve of this.#idle.splice(0)) resolve();
    });
  }

  /**
   * Resolves once the server has no session open: its side of an input (a failed upload's partial, a batch's
   * temporaries) is done with the files, which the client's return does not say (the relay's cut reaches the
   * server after it). The checks and the cleanup of an input wait for it.
   */
  protected serverIdle(): Promise<void> {
    return this.#sessions === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve));
  }

  /** A real server (root `workDir/root`, any client key admitted both ways) and a relay in front of it. */
  protected static async startRelayed(
    victim: Victim,
    workDir: string,
  ): Promise<{ server: FerryServer; relay: HostileRelay }> {
    const root = join(workDir, 'root');
    await mkdir(root, { recursive: true });
    const server = await FerryServer.start({
      root,
      port: 0,
      host: '127.0.0.1',
      identity: generateKeyPair(),
      partialSweepIntervalMs: 0,
      // Every input reaches the server through the relay's one key, and a failed upload keeps its partial
      // (resumable): the per-client bound on open partials (256) refused honest inputs after a few hundred
      // (`npm run fuzz`). Not what these targets attack.
      maxPartialsPerClient: 0,
      // A delta upload needs the download permission too (the signature shows the old file, §5.15.1).
      authorize: () => ({ permissions: PERMISSION_DOWNLOAD | PERMISSION_UPLOAD }),
    });
    return { server, relay: await HostileRelay.start(victim, server) };
  }

  abstract one(random: SeededRandom, index: number): Promise<void>;

  /** Counts an input of `kind` for the stats. */
  protected count(kind: string): void {
    this.#counts[kind] = (this.#counts[kind] ?? 0) + 1;
  }

  /** A client's connect options through the relay: any server key, no retry, a short stall timeout. */
  protected client() {
    return {
      server: this.relay.address,
      identity: generateKeyPair(),
      verifyServer: () => undefined,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
      stallTimeoutMs: RELAY_STALL_MS,
      threads: 1,
    };
  }

  /** A failure a hostile peer may cause: coded, not INTERNAL; an honest relay's transfer must not fail. */
  protected assertCodedFailure(change: Change, failure: unknown): void {
    if (change === 'none') throw new FuzzFailure(`an honest transfer failed: ${describeError(failure)}`);
    if (!(failure instanceof FerryError) || failure.code === 'INTERNAL')
      throw new FuzzFailure(
        `the ${this.victim}'s hostile peer made the transfer fail uncoded: ${describeError(failure)}`,
      );
  }

  stats(): Record<string, number | string> {
    const applied = Object.entries(this.relay.applied).map(([change, n]) => `${change}:${n}`);
    return { ...this.#counts, applied: applied.join(' ') };
  }

  async close(): Promise<void> {
    await this.relay.close();
    await this.#server.close();
  }
}

export function describeError(err: unknown): string {
  if (err instanceof FerryError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
}
