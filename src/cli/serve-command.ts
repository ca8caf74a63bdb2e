import type { Command } from 'commander';
import { resolve } from 'node:path';
import { formatFerryId } from '../crypto/index.js';
import {
  AllowListWatcher,
  listInvites,
  loadIdentity,
  loadKeyRotation,
  loadOrCreateIdentity,
  recordDashboardUrl,
  recordServeAddress,
} from '../home/index.js';
import { DEFAULT_THREADS, SERVER_DEFAULTS, FerryServer, allowListAuthorize } from '../index.js';
import { homeOf } from './cli-context.js';
import { parseListen } from './parse-target.js';
import { serveBanner } from './serve-banner.js';
import {
  formatByteSize,
  formatMs,
  parseByteSize,
  parseCount,
  parseMs,
  parseThreads,
} from './parse-option.js';
import { createLogger } from './logger.js';
import { LOG_LEVELS } from './log-level.js';
import { applyServeConfig } from './serve-config.js';
import { tuneServeHeap } from './serve-heap.js';
import { PART_MEMORY_HELP, objectStoreFromFlags, partMemoryFromFlags } from './object-store-flags.js';
import { SERVE_MEMORY_HELP, serveMemoryFromFlags } from './serve-memory-flags.js';
import {
  admissionFromFlags,
  CLAIM_TTL_DEFAULT,
  CLAIM_TTL_HELP,
  ownershipFromFlags,
  refuseClaimTtlAlone,
} from './serve-coordination-flags.js';
import { isLoopbackHost, startDashboard, type Dashboard } from '../index.js';
import { FerryError } from '../errors/index.js';
import { ferryCommand, homeWord } from './ferry-command.js';

interface ServeFlags {
  root: string;
  listen: string;
  init?: boolean;
  logLevel: string;
  logFile?: string;
  dashboard?: string;
  dashboardPublic?: boolean;
  maxFileSize?: string;
  handshakeTimeout: string;
  idleTimeout: string;
  durableBatch: string;
  partialMaxAge: string;
  maxConnections: string;
  maxUnauthenticated: string;
  maxSessionsPerClient: string;
  handshakeRate: string;
  handshakeBurst: string;
  minFreeDisk: string;
  clientQuota?: string;
  maxPartialsPerClient: string;
  uploadStallTimeout: string;
  store?: string;
  s3Endpoint?: string;
  s3Region?: string;
  partMemory?: string;
  partMemoryPerClient?: string;
  listingMemory?: string;
  listingMemoryPerClient?: string;
  downloadMemory?: string;
  downloadMemoryPerClient?: string;
  uploadMemory?: string;
  uploadMemoryPerClient?: string;
  coordination?: string;
  claimTtl: string;
  threads: string;
  stopGrace: string;
}

/**
 * How long sessions get to end after SIGINT, SIGTERM or SIGHUP before `ferry serve` exits without them: the
 * library's close grace (CLOSE_GRACE_MS gives the reasoning), which `--stop-grace` passes to `close`.
 */
export const STOP_GRACE_MS = SERVER_DEFAULTS.closeGraceMs;

/**
 * How long past `--stop-grace` the stop waits for `close` itself and what follows it (the dashboard, the
 * lease's revoke) before the process kills itself all the same: `close` resolves at the grace, so only
 * something stuck outside the sessions (a seal thread that never terminates, an etcd that never answers)
 * meets this.
 */
const STOP_BACKSTOP_MS = 5_000;

/** `--handshake-burst`: at least one, or no source could ever start a handshake. */
function parseBurst(text: string): number {
  const n = parseCount(text, '--handshake-burst');
  if (n < 1) throw new FerryError('USAGE_INVALID', `--handshake-burst takes 1 or more, got ${n}`);
  return n;
}

/** `ferry serve`: receive files into a root directory from allow-listed clients. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run a server: allowed clients send files to it and get files from it')
    .option('--config <file>', 'read these settings from a JSON file (keys are the flags; flags win)')
    .option('--root <dir>', 'directory to receive files into', './ferry-data')
    .option(
      '--listen <host:port>',
      'address to listen on ([::1]:7443 for IPv6)',
      `127.0.0.1:${SERVER_DEFAULTS.port}`,
    )
    .option('--init', 'create an identity first if this home has none')
    .option('--log-level <level>', LOG_LEVELS.join(', '), 'info')
    .option('--log-file <path>', 'append JSON log lines to this file instead of stderr')
    .option('--dashboard <host:port>', 'serve a read-only web dashboard there (e.g. 127.0.0.1:7080)')
    .option('--dashboard-public', 'allow the dashboard on a non-loopback address (plain HTTP, token only)')
    .option('--max-file-size <bytes>', 'largest accepted file (e.g. 10G); default no limit')
    .option(
      '--handshake-timeout <duration>',
      'close connections that do not finish the handshake in time',
      formatMs(SERVER_DEFAULTS.handshakeTimeoutMs),
    )
    .option(
      '--idle-timeout <duration>',
      'close sessions idle for this long',
      formatMs(SERVER_DEFAULTS.idleTimeoutMs),
    )
    .option(
      '--durable-batch <bytes>',
      'verified bytes made durable per fsync batch (smaller: finer resume, more fsyncs)',
      formatByteSize(SERVER_DEFAULTS.durableBatchBytes),
    )
    .option(
      '--partial-max-age <duration>',
      'remove partial transfers untouched for this long',
      formatMs(SERVER_DEFAULTS.partialMaxAgeMs),
    )
    .option(
      '--max-connections <n>',
      'connections at once; more are closed at accept',
      String(SERVER_DEFAULTS.limits.maxConnections),
    )
    .option(
      '--max-unauthenticated <n>',
      'connections still in the handshake; when full the oldest is dropped',
      String(SERVER_DEFAULTS.limits.maxUnauthenticated),
    )
    .option(
      '--max-sessions-per-client <n>',
      'sessions one client key may hold',
      String(SERVER_DEFAULTS.limits.maxSessionsPerClient),
    )
    .option(
      '--handshake-rate <n>',
      'handshakes one source (IPv4 address, IPv6 /64) may start per second; more are closed unread; 0 for no limit',
      String(SERVER_DEFAULTS.handshakeRate.handshakesPerSecond),
    )
    .option(
      '--handshake-burst <n>',
      'handshakes one source may start at once before --handshake-rate applies',
      String(SERVER_DEFAULTS.handshakeRate.handshakeBurst),
    )
    .option(
      '--min-free-disk <bytes>',
      'free space to keep; larger transfers are refused (DISK_FULL)',
      formatByteSize(SERVER_DEFAULTS.minFreeDiskBytes),
    )
    .option(
      '--client-quota <bytes>',
      'bytes one client may store per server run, its open partials included (default no limit)',
    )
    .option(
      '--max-partials-per-client <n>',
      'partial transfers one client key may hold open; 0 for no limit',
      String(SERVER_DEFAULTS.maxPartialsPerClient),
    )
    .option(
      '--upload-stall-timeout <duration>',
      "an upload's room on the disk goes to other offers when its data falls behind a day's pace of its size (64 KiB at least) for this long; 0: kept while its session lives",
      formatMs(SERVER_DEFAULTS.uploadStallTimeoutMs),
    )
    .option(
      '--store <s3://bucket/prefix>',
      'keep received files as objects in an S3-compatible store (credentials: the AWS environment)',
    )
    .option('--s3-endpoint <url>', "the object store's S3 endpoint (default AWS's)")
    .option('--s3-region <region>', "the object store's region (default AWS_REGION, else us-east-1)")
    .option('--part-memory <bytes>', PART_MEMORY_HELP.total)
    .option('--part-memory-per-client <bytes>', PART_MEMORY_HELP.perClient)
    .option('--listing-memory <bytes>', SERVE_MEMORY_HELP.listingTotal)
    .option('--listing-memory-per-client <bytes>', SERVE_MEMORY_HELP.listingPerClient)
    .option('--download-memory <bytes>', SERVE_MEMORY_HELP.downloadTotal)
    .option('--download-memory-per-client <bytes>', SERVE_MEMORY_HELP.downloadPerClient)
    .option('--upload-memory <bytes>', SERVE_MEMORY_HELP.uploadTotal)
    .option('--upload-memory-per-client <bytes>', SERVE_MEMORY_HELP.uploadPerClient)
    .option(
      '--coordination <etcd://host:port/prefix>',
      'etcd 3.4 the servers of a cluster share: who may connect (allow-list, invites, revokes) and, with --store, who writes each transfer',
    )
    .option('--claim-ttl <duration>', CLAIM_TTL_HELP, CLAIM_TTL_DEFAULT)
    .option(
      '--threads <n>',
      'threads encrypting and hashing downloads, decrypting and hashing uploads (1: the event loop alone; more: a pool of worker threads; default by cores, README "Speed: threads")',
      String(DEFAULT_THREADS),
    )
    .option(
      '--stop-grace <duration>',
      'on SIGINT/SIGTERM/SIGHUP, how long sessions get to end before the server ends without them (SIGKILL, 137)',
      formatMs(STOP_GRACE_MS),
    )
    .action(async (_flags: ServeFlags, command: Command) => {
      tuneServeHeap();
      const flags = await applyServeConfig<ServeFlags>(command);
      refuseClaimTtlAlone(flags, command.getOptionValueSource('claimTtl'));
      const home = homeOf(command);
      const { keyPair, created } = flags.init
        ? await loadOrCreateIdentity(home)
        : { keyPair: await loadIdentity(home), created: false };
      const keyRotation = await loadKeyRotation(home);
      const logger = createLogger(flags, { role: 'server', defaultLevel: 'info' });
      const watcher = new AllowListWatcher(home);
      const { host, port } = parseListen(flags.listen);
      const dashboardAt = flags.dashboard === undefined ? undefined : parseListen(flags.dashboard);
      if (dashboardAt && !isLoopbackHost(dashboardAt.host) && !flags.dashboardPublic)
        throw new FerryError(
          'USAGE_INVALID',
          `--dashboard ${flags.dashboard} is not a loopback address: add --dashboard-public to serve it there`,
        );
      const objectStore = await objectStoreFromFlags(flags);
      const ownership = ownershipFromFlags(flags);
      const stopGraceMs = parseMs(flags.stopGrace, '--stop-grace');
      // With --coordination, etcd alone says who may connect (docs/ARCHITECTURE.md, "Admission in a cluster").
      const admission = admissionFromFlags(flags);
      const server = await FerryServer.start({
        root: resolve(flags.root),
        objectStore,
        ...(objectStore ? { partMemory: partMemoryFromFlags(flags) } : {}),
        ...serveMemoryFromFlags(flags),
        ...(ownership ? { ownership } : {}),
        host,
        port,
        identity: keyPair,
        home,
        // Its settings and its log must lie outside the root (ServeOptions.ownFiles).
        ownFiles: [command.getOptionValue('config') as string | undefined, flags.logFile].flatMap((file) =>
          file === undefined ? [] : [resolve(file)],
        ),
        authorize: admission ? admission.authorize : allowListAuthorize(watcher),
        logger,
        maxFileBytes: flags.maxFileSize ? parseByteSize(flags.maxFileSize) : 0,
        handshakeTimeoutMs: parseMs(flags.handshakeTimeout, '--handshake-timeout'),
        idleTimeoutMs: parseMs(flags.idleTimeout, '--idle-timeout'),
        durableBatchBytes: parseByteSize(flags.durableBatch),
        partialMaxAgeMs: parseMs(flags.partialMaxAge, '--partial-max-age'),
        limits: {
          maxConnections: parseCount(flags.maxConnections, '--max-connections'),
          maxUnauthenticated: parseCount(flags.maxUnauthenticated, '--max-unauthenticated'),
          maxSessionsPerClient: parseCount(flags.maxSessionsPerClient, '--max-sessions-per-client'),
        },
        handshakeRate: {
          handshakesPerSecond: parseCount(flags.handshakeRate, '--handshake-rate'),
          handshakeBurst: parseBurst(flags.handshakeBurst),
        },
        minFreeDiskBytes: parseByteSize(flags.minFreeDisk),
        clientQuotaBytes: flags.clientQuota ? parseByteSize(flags.clientQuota) : 0,
        maxPartialsPerClient: parseCount(flags.maxPartialsPerClient, '--max-partials-per-client'),
        uploadStallTimeoutMs: parseMs(flags.uploadStallTimeout, '--upload-stall-timeout'),
        threads: parseThreads(flags.threads),
        // `ferry invite` on this home works without a restart: the invite store is read at pairing time.
        pairing: { homeDir: home, ...(admission ? { stores: admission.pairingStores } : {}) },
        // PROTOCOL.md §13: `ferry key prepare / rotate / finish` take effect at the next start.
        ...(keyRotation ? { keyRotation } : {}),
      });
      admission?.attach(server, logger);
      const cluster = flags.coordination === undefined ? '' : ` --coordination ${flags.coordination}`;
      // How the operator runs this ferry (`./bin/ferry` in a checkout with none installed) and reaches this
      // server's home, for every hint printed or shown (banner, dashboard): pasted, each must work.
      const ferry = ferryCommand(process.argv[1], process.cwd(), process.env.PATH);
      const admin = `${ferry} --home ${homeWord(home, ferry, process.cwd())}`;
      let dashboard: Dashboard | undefined;
      if (dashboardAt) {
        try {
          dashboard = await startDashboard({
            server,
            ...dashboardAt,
            adminCommand: `${admin}${cluster}`,
            allowPublic: flags.dashboardPublic ?? false,
            listClients: async () =>
              (await (admission ? admission.allowList.current() : watcher.current())).clients.map(
                (client) => ({
                  id: client.id,
                  name: client.name,
                  permissions: client.permissions,
                  root: client.root,
                }),
              ),
            // Open invites by id, name and expiry: never their codes.
            listInvites: async () =>
              (await (admission ? admission.invites.list() : listInvites(home))).map(
                ({ id, name, permissions, expiresAt }) => ({
                  id,
                  name,
                  permissions,
                  expiresAt,
                }),
              ),
          });
        } catch (err) {
          await server.close();
          admission?.close();
          await ownership?.close();
          // It said 'server ready' above: a log read alone must not show a server still running.
          logger.info({ event: 'stopped', reason: 'dashboard' }, 'server stopped');
          throw err;
        }
        // The address only: the token is for the operator's terminal, never for a log file.
        // `host:port` as the listening line gives its address (an object read `{"host":...}` on a terminal).
        const { host, port } = dashboard.address;
        const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
        logger.info({ event: 'dashboard', address }, 'dashboard ready');
      }
      // Kept for the operator in a 0600 file of the home: the banner shows the token only to a terminal.
      const dashboardUrlFile = dashboard ? await recordDashboardUrl(home, dashboard.url) : undefined;
      // `ferry invite` on this home prints a `ferry pair` line with this address.
      await recordServeAddress(home, server.addressText);
      // Listening for the signals before the banner says it is ready: a SIGTERM sent on the banner's first line
      // (a supervisor, a test) stops it gracefully, never by the signal's default action.
      // The handlers stay on while stopping: one Ctrl-C reaches a server under `npm start` two or three times
      // (the terminal signals the whole process group, and npm and scripts/start.mjs each pass it on), and a
      // repeat left to the default action killed it halfway through closing, 'server stopped' never logged.
      let stopping = false;
      const stopped = new Promise<void>((resolveStop) => {
        const stop = (signal: NodeJS.Signals): void => {
          if (stopping) return;
          stopping = true;
          logger.info({ event: 'stopping', signal }, 'server stopping');
          // A session stuck in the file system (a write or fsync that never returns) would hold the stop for
          // ever, and a repeated signal is ignored above: `close` stops waiting for the sessions at the grace
          // (the library's bound, CloseOptions.graceMs), and a session left makes the process end without
          // it. Its partial stays as the last durable batch left it (data before log), for the next start's
          // sweep or the client's resume; its claims (--store) are not revoked: they lapse after --claim-ttl,
          // as a killed server's do, so no other server takes a transfer this one might still be writing.
          const endWithout = (): void => {
            const sessions = server.sessionStates();
            logger.warn(
              { event: 'stop-grace-passed', graceMs: stopGraceMs, sessionsLeft: sessions.length, sessions },
              'sessions did not end within --stop-grace',
            );
            logger.info({ event: 'stopped', reason: 'stop-grace', signal }, 'server stopped');
            // Not process.exit(code): it joins libuv's threads, and one stuck in a write to that disk never
            // returns (measured: exit still waiting 15 s on). SIGKILL ends the process as soon as no thread
            // waits uninterruptibly (an NFS hard mount waits killably; a write a FUSE daemon took waits for its
            // answer, and the process ends then, writing nothing more). Not SIGTERM: supervisors count death by
            // SIGTERM as a clean stop (systemd), and sessions left behind are not one (README "Exit codes": 137).
            process.kill(process.pid, 'SIGKILL');
          };
          const backstop = setTimeout(endWithout, stopGraceMs + STOP_BACKSTOP_MS);
          void Promise.all([server.close({ graceMs: stopGraceMs }), dashboard?.close()]).then(async () => {
            if (server.sessionStates().length > 0) return endWithout();
            // The claims go after the server stopped writing: revoking the lease frees them for the others.
            admission?.close();
            await ownership?.close();
            clearTimeout(backstop);
            logger.info({ event: 'stopped', reason: signal }, 'server stopped');
            resolveStop();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        // The terminal closing (an ssh session dropped, a window shut) sends SIGHUP: its default action killed
        // the server mid-write, 'server stopped' never logged. `nohup` cannot keep a Node process running
        // anyway: Node resets an inherited SIGHUP ignore to the default at start (measured, Node 20: `nohup`
        // ferry serve died of SIGHUP, 129), and with it the only sign that nohup was used, so there is no
        // ignore to keep. README "Running a server": setsid or a supervisor keeps it past its terminal.
        process.on('SIGHUP', stop);
      });
      process.stdout.write(
        serveBanner({
          id: formatFerryId(keyPair.publicKey),
          created,
          address: server.addressText,
          dashboard:
            dashboard && dashboardUrlFile ? { url: dashboard.url, urlFile: dashboardUrlFile } : undefined,
          toTerminal: process.stdout.isTTY === true,
          place: objectStore
            ? { label: 'store', value: flags.store! }
            : { label: 'root', value: server.root },
          home,
          ferry,
          admin,
          cluster,
        }),
      );
      await stopped;
    });
}
