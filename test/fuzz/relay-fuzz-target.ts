// What the relay fuzz targets (targets/delta-relay-target.ts, targets/tree-relay-target.ts) share: a real
// server behind a hostile relay (hostile-relay.ts), the client's options through it, and the failure rule.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryError } from '../../src/errors/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FerryServer, type SessionState } from '../../src/server/index.js';
import type { SeededRandom } from '../helpers/seeded-random.js';
import { HostileRelay, type Change, type Victim } from './hostile-relay.js';
import { FuzzFailure, type FuzzTarget } from './run-fuzz.js';

/** The client's stall timeout: a dropped record leaves it waiting this long at most. */
const RELAY_STALL_MS = 1500;

/**
 * How long the server's sessions may take to end after the client's sync or transfer returned (its connection
 * closed or about to: the relay closes its side with the client's). An honest server ends them within the
 * linger after an ERROR (2 s) or a disk's fsync; past this one waits on something that will not come, and the
 * input fails naming it, rather than the test file running into the runner's 300 s timeout.
 */
export const SESSIONS_END_MS = 20_000;

/** What a relay target is started with. */
export interface RelayTargetOptions {
  /** A fresh directory for the server's root and the inputs' files. */
  readonly workDir: string;
  /** The deadline on the server's sessions ending (`serverIdle`), default SESSIONS_END_MS. */
  readonly sessionsEndMs?: number;
}

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
  /** The admitted sessions open now, by id: who waits for none to be (`serverIdle`). */
  readonly #sessions = new Set<number>();
  /** Sessions an input's `serverIdle` gave up on: a later input does not wait for them again. */
  readonly #writtenOff = new Set<number>();
  readonly #idle: Array<() => void> = [];
  readonly #sessionsEndMs: number;

  protected constructor(
    victim: Victim,
    server: FerryServer,
    relay: HostileRelay,
    options: RelayTargetOptions,
  ) {
    this.victim = victim;
    this.#server = server;
    this.relay = relay;
    this.work = options.workDir;
    this.#sessionsEndMs = options.sessionsEndMs ?? SESSIONS_END_MS;
    server.events.on('session-opened', (event) => this.#sessions.add(event.sessionId));
    server.events.on('session-closed', (event) => {
      this.#sessions.delete(event.sessionId);
      this.#writtenOff.delete(event.sessionId);
      if (this.#idle.length > 0 && this.#waitedFor().length === 0)
        for (const resolve of this.#idle.splice(0)) resolve();
    });
  }

  /** The open sessions an input waits for (not those an earlier one gave up on). */
  #waitedFor(): number[] {
    return [...this.#sessions].filter((id) => !this.#writtenOff.has(id));
  }

  /**
   * Resolves once the server has no session open: its side of an input (a failed upload's partial, a batch's
   * temporaries) is done with the files, which the client's return does not say (the relay's cut reaches the
   * server after it). The checks and the cleanup of an input wait for it. Fails (a FuzzFailure) past the
   * target's `sessionsEndMs`, naming the input (`input`: its index and what it was) and every session still
   * running: its phase (`SessionState`), its connection, and what the relay carried on it.
   */
  protected async serverIdle(input: { index: number; kind: string }): Promise<void> {
    if (this.#waitedFor().length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<void>((resolve) => this.#idle.push(resolve));
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.#sessionsEndMs);
    });
    try {
      if ((await Promise.race([idle, late])) !== 'late') return;
    } finally {
      clearTimeout(timer);
    }
    const stuck = this.#waitedFor();
    for (const id of stuck) this.#writtenOff.add(id);
    throw new FuzzFailure(
      `input ${input.index} (${input.kind}): the server's session${stuck.length > 1 ? 's' : ''} ${stuck.join(', ')} did not end within ` +
        `${this.#sessionsEndMs} ms of the client's return; running:\n${this.describeSessions()}`,
    );
  }

  /** The server's sessions as an input still running sees them (`fuzzInTest`'s report of a stuck input). */
  describeRunning(): string {
    return `the server's sessions:\n${this.describeSessions()}`;
  }

  /** Every session the server still runs, one per line: its state and what the relay carried on it. */
  protected describeSessions(): string {
    const states = this.#server.sessionStates();
    if (states.length === 0) return '    (none)';
    return states
      .map((state) => `    ${describeState(state, this.relay.describeConnection(state.address))}`)
      .join('\n');
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
      // A server under attack opens its sessions' long records on threads, as it does by default from 4 cores
      // (DEFAULT_THREADS is 1 below): the records a hostile client cuts short (`tear`) reach the pool's blocks
      // on every machine (stop 41: a session waited for such a record after its connection closed).
      ...(victim === 'server' ? { threads: 2 } : {}),
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

  /**
   * Closes the relay and the server. The server's close waits for its sessions: one that never ends fails this
   * close (past `sessionsEndMs`, naming it) instead of hanging the test file.
   */
  async close(): Promise<void> {
    await this.relay.close();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.#sessionsEndMs);
    });
    try {
      const closed = this.#server.close().then(() => 'closed' as const);
      if ((await Promise.race([closed, late])) === 'late')
        throw new FuzzFailure(
          `${this.name}: the server's close did not end its sessions within ${this.#sessionsEndMs} ms; running:\n${this.describeSessions()}`,
        );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** One session's state in a line: id, phase and for how long, connection, background work, relay's log. */
function describeState(state: SessionState, relayed: string | undefined): string {
  const { background } = state;
  const work = [
    background.upload && `upload ${background.upload}`,
    background.finishes > 0 && `${background.finishes} finishing`,
    background.batches > 0 && `${background.batches} batches placing`,
    background.batchOpen && 'a batch open',
    background.downloads > 0 && `${background.downloads} downloads`,
  ].filter(Boolean);
  return (
    `session ${state.sessionId} (${state.address}, connection ${state.connection}): ` +
    `in '${state.phase}' for ${state.phaseMs} ms` +
    (work.length > 0 ? `, beside it ${work.join(', ')}` : '') +
    `; relay: ${relayed ?? 'not a connection of this input'}`
  );
}

export function describeError(err: unknown): string {
  if (err instanceof FerryError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
}
