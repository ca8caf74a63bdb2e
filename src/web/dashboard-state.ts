import { ERROR_CODES, type ErrorCode } from '../errors/index.js';
import type { ServerEvent, ServerTransfer, ServerTransferDirection } from '../server/index.js';

/** Finished and failed transfers kept for the "recent" table. */
export const RECENT_TRANSFERS = 25;
/** Refused connections kept for the "refused" table. */
export const RECENT_REFUSALS = 10;
/** Throughput samples kept per live transfer (the sparkline's width). */
export const SPARKLINE_SAMPLES = 40;
/** Speed is measured over this much recent history. */
const SPEED_WINDOW_MS = 5_000;
/** A live transfer with no progress for this long shows as idle. */
const IDLE_AFTER_MS = 5_000;

/** One authorised client as the dashboard shows it. */
export interface DashboardClient {
  id: string;
  name: string | undefined;
  permissions: readonly string[];
  /** The subdirectory it is confined to, relative to the server root; undefined for all of it. */
  root: string | undefined;
}

/** A transfer in progress. */
export interface LiveTransferView {
  id: string;
  direction: ServerTransferDirection;
  client: string;
  peerId: string | undefined;
  path: string;
  size: number;
  /** A delta (only what changed crosses the network): what it held at its start is the old file's. */
  delta: boolean;
  verifiedBytes: number;
  /** Bytes per second over the last few seconds; 0 when nothing moved. */
  bytesPerSecond: number;
  etaSeconds: number | undefined;
  state: 'starting' | 'active' | 'idle';
  startedAt: number;
  /** Throughput samples (bytes per second), oldest first, one per sampling tick. */
  samples: number[];
  /** Bytes already held verified when it started (> 0: it resumed an interrupted transfer; 0 for a delta). */
  resumedFromBytes: number;
}

/** What a sync did to one entry without moving file data (server events `entry-removed`, `attributes-set`). */
export type EntryChange =
  | { kind: 'removed'; entry: Extract<ServerEvent, { type: 'entry-removed' }>['kind'] }
  | { kind: 'attributes-set'; mode: number; mtimeMs: number };

/**
 * A transfer that ended, or an entry a client's sync changed without moving data (`outcome` `removed` or
 * `attributes-set`, with `change`; its size, digest, time and speed say nothing then).
 */
export interface RecentTransferView {
  id: string;
  direction: ServerTransferDirection;
  client: string;
  peerId: string | undefined;
  path: string;
  size: number;
  /** A delta (only what changed crossed the network): it resumed nothing. */
  delta: boolean;
  /**
   * `interrupted`: the connection went (network, stall, Ctrl-C, a newer session took it over) and the
   * verified part is kept, so the same command resumes it; `failed`: refused or broken for good.
   */
  outcome: 'finished' | 'interrupted' | 'failed' | 'removed' | 'attributes-set';
  /** For `removed` and `attributes-set`: what was removed, or the mode and mtime given. */
  change?: EntryChange;
  /** Bytes held verified when it ended (interrupted: what a resume starts from). */
  heldBytes: number;
  /** Bytes already held when it started (> 0: this transfer resumed an earlier one; 0 for a delta). */
  resumedFromBytes: number;
  digest: string | undefined;
  code: ErrorCode | undefined;
  identical: boolean;
  durationMs: number;
  /**
   * The file's average speed: bytes that had to arrive (the size less what was already held) over the
   * transfer's life, bytes per second (finished, not identical). Counted from the file, not from one
   * session, so it is the same with `--streams N` as with one stream.
   */
  bytesPerSecond: number | undefined;
  endedAt: number;
}

/** A connection refused before admission. */
export interface RefusedView {
  time: number;
  address: string;
  /** The client's full ferry ID when the handshake got far enough to reveal its key. */
  clientId: string | undefined;
  code: ErrorCode;
}

/** An open pairing invite, as the dashboard may show it: never its code. */
export interface DashboardInvite {
  id: string;
  name: string | undefined;
  permissions: readonly string[];
  expiresAt: string;
}

/** Where files land and how much room is left there. */
export interface DashboardStorage {
  root: string;
  /** Free bytes on the root's file system (for unprivileged writers), undefined when unknown. */
  freeBytes: number | undefined;
}

/** Everything the page shows, sent whole on every update (it is small). */
export interface DashboardSnapshot {
  server: {
    id: string;
    address: string;
    startedAt: number;
    /**
     * How the operator runs ferry for this server (`ferry --home DIR`), which the page's hints use (`ferry
     * invite`, `ferry allow`): a bare `ferry` works only when the server's home is the default one.
     */
    adminCommand?: string;
  };
  now: number;
  sessions: { open: number; total: number; refused: number };
  /** `removed`, `attributesSet`: entries clients' syncs removed, or gave a mode and mtime without data. */
  totals: {
    finished: number;
    failed: number;
    interrupted: number;
    bytes: number;
    removed: number;
    attributesSet: number;
  };
  live: LiveTransferView[];
  recent: RecentTransferView[];
  refused: RefusedView[];
  clients: DashboardClient[];
  invites: DashboardInvite[];
  storage: DashboardStorage | undefined;
}

/** Extra facts the server side supplies at each snapshot (read from the home and the disk). */
export interface SnapshotExtras {
  clients: DashboardClient[];
  invites?: DashboardInvite[];
  storage?: DashboardStorage;
}

/**
 * True when a transfer that ended with `code` keeps its verified part for the same command to resume:
 * the connection went (retryable network errors, a corrupted record), the client stopped, or a newer
 * session of the same client took it over. Refusals (FILE_EXISTS, quota, paths) are failures.
 */
export function isResumable(code: ErrorCode): boolean {
  return ERROR_CODES[code].retryable || code === 'ABORTED' || code === 'TRANSFER_TAKEN_OVER';
}

interface LiveTransfer {
  transfer: ServerTransfer;
  verifiedBytes: number;
  heldAtStart: number;
  /** (time, verifiedBytes) points over the speed window, oldest first. */
  history: Array<[number, number]>;
  lastProgressAt: number | undefined;
  samples: number[];
  sampledBytes: number;
  sampledAt: number;
}

/**
 * The dashboard's view of a server, built only from its ServerEvents: live transfers with speed, ETA and a
 * throughput history, recent outcomes, session counts. Time comes from the events and from `sample(now)`,
 * so tests drive it without a clock.
 */
export class DashboardState {
  readonly #server: DashboardSnapshot['server'];
  readonly #live = new Map<string, LiveTransfer>();
  readonly #recent: RecentTransferView[] = [];
  readonly #refusals: RefusedView[] = [];
  readonly #openSessions = new Set<number>();
  #sessionsTotal = 0;
  #refused = 0;
  #finished = 0;
  #failed = 0;
  #interrupted = 0;
  #bytes = 0;
  #removed = 0;
  #attributesSet = 0;

  constructor(server: DashboardSnapshot['server']) {
    this.#server = server;
  }

  /** Whether any transfer is live (the server then samples and pushes on a timer). */
  get hasLive(): boolean {
    return this.#live.size > 0;
  }

  apply(event: ServerEvent): void {
    switch (event.type) {
      case 'session-opened':
        this.#openSessions.add(event.sessionId);
        this.#sessionsTotal++;
        return;
      case 'session-closed':
        this.#openSessions.delete(event.sessionId);
        return;
      case 'session-refused':
        this.#refused++;
        this.#refusals.unshift({
          time: event.time,
          address: event.address,
          clientId: event.clientId,
          code: event.code,
        });
        if (this.#refusals.length > RECENT_REFUSALS) this.#refusals.pop();
        return;
      case 'transfer-started': {
        const held = event.heldBytes;
        this.#live.set(event.transfer.transferId, {
          transfer: event.transfer,
          verifiedBytes: held,
          heldAtStart: held,
          history: [[event.time, held]],
          lastProgressAt: undefined,
          samples: [],
          sampledBytes: held,
          sampledAt: event.time,
        });
        return;
      }
      case 'progress': {
        const live = this.#live.get(event.transfer.transferId);
        if (!live) return;
        live.verifiedBytes = Math.max(live.verifiedBytes, event.verifiedBytes);
        live.lastProgressAt = event.time;
        live.history.push([event.time, live.verifiedBytes]);
        trimHistory(live.history, event.time);
        return;
      }
      case 'transfer-finished': {
        const live = this.#live.get(event.transfer.transferId);
        this.#live.delete(event.transfer.transferId);
        this.#finished++;
        this.#bytes += event.transferredBytes;
        const heldAtStart = live?.heldAtStart ?? 0;
        // The file's bytes that had to arrive, not this session's: joined streams (--streams N) carry the
        // rest on other sessions, so the session's own count would show about 1/N of the speed.
        const arrived = event.identical ? 0 : event.transfer.size - heldAtStart;
        this.#remember({
          ...this.#identity(event.transfer),
          outcome: 'finished',
          heldBytes: event.transfer.size,
          resumedFromBytes: event.identical || event.transfer.delta === true ? 0 : heldAtStart,
          digest: event.digest,
          code: undefined,
          identical: event.identical,
          durationMs: event.durationMs,
          bytesPerSecond:
            event.durationMs > 0 && arrived > 0 ? (arrived * 1000) / event.durationMs : undefined,
          endedAt: event.time,
        });
        return;
      }
      case 'transfer-failed': {
        const live = this.#live.get(event.transfer.transferId);
        this.#live.delete(event.transfer.transferId);
        const resumable = isResumable(event.code);
        if (resumable) this.#interrupted++;
        else this.#failed++;
        this.#remember({
          ...this.#identity(event.transfer),
          outcome: resumable ? 'interrupted' : 'failed',
          heldBytes: live?.verifiedBytes ?? 0,
          resumedFromBytes: event.transfer.delta === true ? 0 : (live?.heldAtStart ?? 0),
          digest: undefined,
          code: event.code,
          identical: false,
          durationMs: event.time - event.transfer.startedAt,
          bytesPerSecond: undefined,
          endedAt: event.time,
        });
        return;
      }
      case 'entry-removed':
      case 'attributes-set': {
        const removed = event.type === 'entry-removed';
        if (removed) this.#removed++;
        else this.#attributesSet++;
        this.#remember({
          id: `${event.sessionId}:${event.ref}`,
          // A change the client made to the server's tree, as an upload is.
          direction: 'upload',
          client: event.clientName ?? event.peerId ?? event.address,
          peerId: event.peerId,
          path: event.path,
          size: 0,
          delta: false,
          outcome: removed ? 'removed' : 'attributes-set',
          change: removed
            ? { kind: 'removed', entry: event.kind }
            : { kind: 'attributes-set', mode: event.mode, mtimeMs: event.mtimeMs },
          heldBytes: 0,
          resumedFromBytes: 0,
          digest: undefined,
          code: undefined,
          identical: false,
          durationMs: 0,
          bytesPerSecond: undefined,
          endedAt: event.time,
        });
        return;
      }
    }
  }

  /** Adds one throughput sample to every live transfer: bytes verified since the previous sample. */
  sample(now: number): void {
    for (const live of this.#live.values()) {
      const elapsedMs = now - live.sampledAt;
      if (elapsedMs <= 0) continue;
      live.samples.push(((live.verifiedBytes - live.sampledBytes) * 1000) / elapsedMs);
      if (live.samples.length > SPARKLINE_SAMPLES) live.samples.shift();
      live.sampledBytes = live.verifiedBytes;
      live.sampledAt = now;
    }
  }

  snapshot(now: number, extras: SnapshotExtras): DashboardSnapshot {
    const live = [...this.#live.values()].map((entry): LiveTransferView => {
      const rate = speedOf(entry.history, now);
      const remaining = entry.transfer.size - entry.verifiedBytes;
      const state =
        entry.lastProgressAt === undefined
          ? 'starting'
          : now - entry.lastProgressAt > IDLE_AFTER_MS
            ? 'idle'
            : 'active';
      return {
        ...this.#identity(entry.transfer),
        verifiedBytes: entry.verifiedBytes,
        bytesPerSecond: rate,
        etaSeconds: rate > 0 ? remaining / rate : undefined,
        state,
        startedAt: entry.transfer.startedAt,
        samples: [...entry.samples],
        resumedFromBytes: entry.transfer.delta === true ? 0 : entry.heldAtStart,
      };
    });
    return {
      server: this.#server,
      now,
      sessions: { open: this.#openSessions.size, total: this.#sessionsTotal, refused: this.#refused },
      totals: {
        finished: this.#finished,
        failed: this.#failed,
        interrupted: this.#interrupted,
        bytes: this.#bytes,
        removed: this.#removed,
        attributesSet: this.#attributesSet,
      },
      live,
      recent: [...this.#recent],
      refused: [...this.#refusals],
      clients: extras.clients,
      invites: extras.invites ?? [],
      storage: extras.storage,
    };
  }

  #identity(
    transfer: ServerTransfer,
  ): Pick<LiveTransferView, 'id' | 'direction' | 'client' | 'peerId' | 'path' | 'size' | 'delta'> {
    return {
      id: transfer.transferId,
      direction: transfer.direction,
      client: transfer.clientName ?? transfer.peerId ?? transfer.address,
      peerId: transfer.peerId,
      path: transfer.path,
      size: transfer.size,
      delta: transfer.delta === true,
    };
  }

  #remember(view: RecentTransferView): void {
    this.#recent.unshift(view);
    if (this.#recent.length > RECENT_TRANSFERS) this.#recent.pop();
  }
}

/** Drops history older than the speed window, keeping one point at or before its start as the base. */
function trimHistory(history: Array<[number, number]>, now: number): void {
  while (history.length > 2 && history[1]![0] <= now - SPEED_WINDOW_MS) history.shift();
}

/** Bytes per second between the oldest point in the window and now (so a pause brings it down). */
function speedOf(history: Array<[number, number]>, now: number): number {
  const first = history[0];
  const last = history[history.length - 1];
  if (!first || !last || history.length < 2) return 0;
  const elapsedMs = Math.max(now, last[0]) - first[0];
  return elapsedMs > 0 ? ((last[1] - first[1]) * 1000) / elapsedMs : 0;
}
