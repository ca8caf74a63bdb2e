import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { FerryError, escapeForTerminal } from '../errors/index.js';
import { formatFerryId } from '../crypto/index.js';
import type { FerryServer, ServerEvent } from '../server/index.js';
import { statfs } from 'node:fs/promises';
import { DashboardState, type DashboardClient, type DashboardInvite } from './dashboard-state.js';
import { dashboardPage } from './dashboard-page.js';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';
import { DASHBOARD_STYLE } from './dashboard-style.js';
import { isLoopbackHost } from './loopback-host.js';

/** Where `npm start` serves the dashboard. The library starts none unless asked. */
export const DEFAULT_DASHBOARD_PORT = 7080;
/** Updates reach the page at most this often, however busy the server is. */
const PUSH_THROTTLE_MS = 250;

/**
 * Connections the dashboard holds at once (more are closed at accept), and how long one may take to send
 * its request's headers. It runs in the ferry server's process: without a bound, anyone who can reach the
 * port (any local user; anyone with `--dashboard-public`) could hold idle connections until the process ran
 * out of file descriptors, and the server's own accepts and opens failed (`EMFILE`). Sixty-four are many
 * tabs of event streams for the few operators who hold the token.
 */
export const DASHBOARD_MAX_CONNECTIONS = 64;
export const DASHBOARD_HEADERS_TIMEOUT_MS = 10_000;
/** Live transfers are sampled (sparkline, speed decay) and pushed this often by default. */
const SAMPLE_INTERVAL_MS = 1_000;
/** With nothing live, a fresh snapshot is still pushed every this many sample ticks. */
const IDLE_REFRESH_TICKS = 3;
/** An SSE comment this often keeps idle connections (and proxies) from timing out. */
const KEEPALIVE_MS = 15_000;

/**
 * An event stream is written only while what it holds unsent is below this. Each snapshot replaces the one
 * before, so a viewer that does not read (a stalled tab, a suspended laptop, a script that never reads)
 * loses nothing by missing frames, while writing every frame to it grew the server's memory by a snapshot
 * per push (4 a second, each up to a few MiB with many live transfers or clients) until TCP gave up.
 */
export const DASHBOARD_STREAM_BACKLOG_BYTES = 64 * 1024;

/**
 * The page's Content-Security-Policy: scripts and styles only from this origin (no inline code), data only
 * from this origin, no framing, no forms.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every response carries: the token page and the event stream must never be cached or framed. */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/**
 * Why the dashboard cannot bind and what to do (the error's hint), as the server's own listen errors say (a
 * second npm start).
 */
const DASHBOARD_LISTEN_FAILURES: Readonly<Record<string, { text: string; hint: string }>> = {
  EADDRINUSE: {
    text: 'already in use',
    hint: 'is another ferry serve running? choose another with --dashboard HOST:PORT',
  },
  EACCES: {
    text: 'permission denied',
    hint: 'ports below 1024 need privileges, choose another with --dashboard HOST:PORT',
  },
  EADDRNOTAVAIL: {
    text: 'not an address of this machine',
    hint: 'choose another with --dashboard HOST:PORT',
  },
};

export interface DashboardOptions {
  /** The server whose `events` the dashboard shows. */
  server: FerryServer;
  /** Defaults to 127.0.0.1. Anything but a loopback address needs `allowPublic`. */
  host?: string;
  /** Defaults to 7080; 0 picks a free port. */
  port?: number;
  /** Permit a non-loopback bind (the token is then the only protection, over plain HTTP). */
  allowPublic?: boolean;
  /** The access token; a random one by default. At least 16 URL-safe characters. */
  token?: string;
  /** The authorised clients to list; called for every update, so it should be cheap (cached). */
  listClients?: () => Promise<DashboardClient[]> | DashboardClient[];
  /** The open pairing invites to list (never their codes); called for every update. */
  listInvites?: () => Promise<DashboardInvite[]> | DashboardInvite[];
  /**
   * The command that administers this server (`ferry --home DIR`), for the page's hints; default `ferry`
   * (right only for a server on the default home).
   */
  adminCommand?: string;
  /** How often live transfers are sampled for their sparkline and pushed; default 1 s. */
  sampleIntervalMs?: number;
  now?: () => number;
}

/**
 * A read-only web view of a running server: `GET /?token=...` serves the page, which follows
 * `/events` (Server-Sent Events, one JSON snapshot per update). Every request must carry the token; it
 * is compared in constant time. Plain `node:http`, no framework, no build step.
 */
export class Dashboard {
  readonly token: string;
  readonly #http: Server;
  readonly #tokenDigest: Buffer;
  readonly #state: DashboardState;
  readonly #options: DashboardOptions;
  readonly #now: () => number;
  readonly #streams = new Set<ServerResponse>();
  readonly #onEvent: (event: ServerEvent) => void;
  readonly #loopbackOnly: boolean;
  #sampleTimer: NodeJS.Timeout | undefined;
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #pushTimer: NodeJS.Timeout | undefined;
  #pushing = false;
  #pushAgain = false;
  #closing: Promise<void> | undefined;

  private constructor(options: DashboardOptions, token: string, loopbackOnly: boolean) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.token = token;
    this.#tokenDigest = sha256(token);
    this.#loopbackOnly = loopbackOnly;
    this.#state = new DashboardState({
      id: formatFerryId(options.server.publicKey),
      address: options.server.addressText,
      startedAt: this.#now(),
      adminCommand: options.adminCommand ?? 'ferry',
    });
    this.#onEvent = (event) => {
      this.#state.apply(event);
      this.#schedulePush();
    };
    this.#http = createServer((req, res) => this.#route(req, res));
    this.#http.maxConnections = DASHBOARD_MAX_CONNECTIONS;
    this.#http.headersTimeout = DASHBOARD_HEADERS_TIMEOUT_MS;
    this.#http.requestTimeout = DASHBOARD_HEADERS_TIMEOUT_MS;
  }

  /** Starts serving; resolves once the port is bound. */
  static async start(options: DashboardOptions): Promise<Dashboard> {
    const host = options.host ?? '127.0.0.1';
    const loopback = isLoopbackHost(host);
    if (!loopback && !options.allowPublic)
      throw new FerryError('USAGE_INVALID', `the dashboard binds to loopback only; ${host} is not`, {
        hint: 'use --dashboard-public to allow it',
      });
    const token = options.token ?? randomBytes(24).toString('base64url');
    if (!/^[A-Za-z0-9_-]{16,}$/.test(token))
      throw new FerryError('USAGE_INVALID', 'a dashboard token needs at least 16 URL-safe characters');
    const dashboard = new Dashboard(options, token, loopback);
    await new Promise<void>((resolve, reject) => {
      dashboard.#http.once('error', (err: NodeJS.ErrnoException) => {
        const failure = DASHBOARD_LISTEN_FAILURES[err.code ?? ''];
        reject(
          new FerryError(
            'LISTEN_FAILED',
            `the dashboard's address: ${failure?.text ?? 'failed'} (${(err.code ?? 'error').toLowerCase()})`,
            {
              cause: err,
              subject: `${host}:${options.port ?? DEFAULT_DASHBOARD_PORT}`,
              hint: failure?.hint,
            },
          ),
        );
      });
      dashboard.#http.listen({ host, port: options.port ?? DEFAULT_DASHBOARD_PORT }, resolve);
    });
    options.server.events.on('event', dashboard.#onEvent);
    const interval = options.sampleIntervalMs ?? SAMPLE_INTERVAL_MS;
    let idleTicks = 0;
    dashboard.#sampleTimer = setInterval(() => {
      if (!dashboard.#state.hasLive) {
        // What no server event announces (invites made, clients allowed, free disk) is refreshed too.
        if (++idleTicks % IDLE_REFRESH_TICKS === 0) dashboard.#schedulePush();
        return;
      }
      dashboard.#state.sample(dashboard.#now());
      dashboard.#schedulePush();
    }, interval).unref();
    dashboard.#keepaliveTimer = setInterval(() => {
      for (const res of dashboard.#streams) writeIfRead(res, ': keep-alive\n\n');
    }, KEEPALIVE_MS).unref();
    return dashboard;
  }

  /** The bound address. */
  get address(): { host: string; port: number } {
    const info = this.#http.address();
    if (!info || typeof info === 'string') throw new FerryError('INTERNAL', 'dashboard is not listening');
    return { host: info.address, port: info.port };
  }

  /** The page's URL, token included: print it for the operator, never log it. */
  get url(): string {
    const { host, port } = this.address;
    const shown = host === '0.0.0.0' || host === '::' ? host : host.includes(':') ? `[${host}]` : host;
    return `http://${shown}:${port}/?token=${this.token}`;
  }

  /** Stops serving and ends every open event stream. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#options.server.events.off('event', this.#onEvent);
      clearInterval(this.#sampleTimer);
      clearInterval(this.#keepaliveTimer);
      clearTimeout(this.#pushTimer);
      for (const res of this.#streams) res.end();
      this.#streams.clear();
      const closed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
      this.#http.closeAllConnections();
      await closed;
    })();
    return this.#closing;
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, 'method not allowed');
    }
    // DNS rebinding: a loopback dashboard answers only to loopback host names.
    if (this.#loopbackOnly && !isLoopbackHost(hostnameOf(req.headers.host)))
      return plain(res, 403, 'forbidden host');
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    if (!this.#authorised(req, url))
      return plain(
        res,
        401,
        // A banner to a journal or a file names dashboard-url in the server's home instead
        // (home/dashboard-url-file.ts).
        'unauthorised: open the dashboard with the URL ferry serve printed on its terminal, or the one in ' +
          'dashboard-url in its home (it has the token)',
      );
    switch (url.pathname) {
      case '/':
        return send(res, 'text/html; charset=utf-8', dashboardPage(this.token));
      case '/dashboard.js':
        return send(res, 'text/javascript; charset=utf-8', DASHBOARD_SCRIPT);
      case '/dashboard.css':
        return send(res, 'text/css; charset=utf-8', DASHBOARD_STYLE);
      case '/snapshot.json':
        void this.#snapshotText().then(
          (text) => send(res, 'application/json', text),
          () => plain(res, 500, 'internal error'),
        );
        return;
      case '/events':
        return this.#openStream(req, res);
      default:
        return plain(res, 404, 'not found');
    }
  }

  /** The token from `?token=` or `Authorization: Bearer`, compared in constant time (as digests). */
  #authorised(req: IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization;
    const given =
      url.searchParams.get('token') ?? (header?.startsWith('Bearer ') ? header.slice(7) : undefined);
    if (given === undefined) return false;
    return timingSafeEqual(sha256(given), this.#tokenDigest);
  }

  #openStream(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    this.#streams.add(res);
    req.on('close', () => this.#streams.delete(res));
    void this.#snapshotText().then(
      (text) => res.write(`event: snapshot\ndata: ${text}\n\n`),
      () => res.end(),
    );
  }

  #schedulePush(): void {
    if (this.#streams.size === 0 || this.#pushTimer !== undefined) return;
    this.#pushTimer = setTimeout(() => {
      this.#pushTimer = undefined;
      void this.#push();
    }, PUSH_THROTTLE_MS);
  }

  async #push(): Promise<void> {
    if (this.#pushing) {
      this.#pushAgain = true;
      return;
    }
    this.#pushing = true;
    try {
      const frame = `event: snapshot\ndata: ${await this.#snapshotText()}\n\n`;
      for (const res of this.#streams) writeIfRead(res, frame);
    } catch {
      // The clients list could not be read this time; the next update tries again.
    } finally {
      this.#pushing = false;
      if (this.#pushAgain) {
        this.#pushAgain = false;
        this.#schedulePush();
      }
    }
  }

  async #snapshotText(): Promise<string> {
    const [clients, invites, freeBytes] = await Promise.all([
      this.#options.listClients?.() ?? [],
      this.#options.listInvites?.() ?? [],
      freeBytesUnder(this.#options.server.root),
    ]);
    const storage = { root: this.#options.server.root, freeBytes };
    // Paths, names and error details come from clients: a path may hold bidi overrides, isolates and
    // invisible characters (PROTOCOL.md §7.1 refuses only controls), which `textContent` shows as they act,
    // so `a\u202Etxt.exe` reads "aexe.txt". Every string reaches the page as the terminal shows it.
    return JSON.stringify(this.#state.snapshot(this.#now(), { clients, invites, storage }), (_key, value) =>
      typeof value === 'string' ? escapeForTerminal(value) : (value as unknown),
    );
  }
}

/** Starts a dashboard for `options.server` (same as `Dashboard.start`). */
export function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  return Dashboard.start(options);
}

function send(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Writes `text` to an event stream unless it still holds a backlog: a viewer that does not read misses it. */
function writeIfRead(res: ServerResponse, text: string): void {
  if (res.writableLength < DASHBOARD_STREAM_BACKLOG_BYTES) res.write(text);
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${status} ${text}\n`);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** `127.0.0.1:7080` -> `127.0.0.1`; `[::1]:7080` -> `::1`. */
function hostnameOf(host: string | undefined): string {
  if (!host) return '';
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/** Free bytes for unprivileged writers on the file system holding `root`; undefined if it cannot be read. */
async function freeBytesUnder(root: string): Promise<number | undefined> {
  try {
    const stats = await statfs(root);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}
