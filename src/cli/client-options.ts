import { FerryError } from '../errors/index.js';
import type { Command } from 'commander';
import { join } from 'node:path';
import { checkServerKey, loadIdentity } from '../home/index.js';
import { parseFerryId } from '../crypto/index.js';
import {
  CONNECT_TIMEOUT_MS,
  DEFAULT_RETRY_POLICY,
  HANDSHAKE_TIMEOUT_MS,
  STALL_TIMEOUT_MS,
  PROGRESS_TIMEOUT_MS,
  serverKeyUpdater,
  type ConnectOptions,
} from '../client-api.js';
import { confirmOnTty } from './confirm-on-tty.js';
import { formatMs, parseCount, parseMs } from './parse-option.js';
import type { Target } from './parse-target.js';

/** Flags every command that talks to a server shares. */
export interface ClientFlags {
  expect?: string;
  acceptNew?: boolean;
  connectTimeout: string;
  handshakeTimeout: string;
  stallTimeout: string;
  progressTimeout: string;
  retries: string;
  retryDelay: string;
}

/** Adds the shared client flags to `command`. */
export function addClientFlags(command: Command): Command {
  return command
    .option('--expect <id>', 'the server must have this ferry ID (pinned on first use)')
    .option('--accept-new', 'trust an unknown server on first use and pin its key')
    .option(
      '--connect-timeout <duration>',
      'TCP connect deadline (500ms, 30s, 10m; a bare number is ms)',
      formatMs(CONNECT_TIMEOUT_MS),
    )
    .option('--handshake-timeout <duration>', 'handshake deadline', formatMs(HANDSHAKE_TIMEOUT_MS))
    .option(
      '--stall-timeout <duration>',
      'drop and resume a session that moves no bytes for this long',
      formatMs(STALL_TIMEOUT_MS),
    )
    .option(
      '--progress-timeout <duration>',
      'fail a server that keeps the session alive but gets nowhere for this long, plus 16 s per GiB it may be hashing',
      formatMs(PROGRESS_TIMEOUT_MS),
    )
    .option(
      '--retries <n>',
      'retries after a network failure of a connection that worked (0: fail fast); the first connection fails at once',
      String(DEFAULT_RETRY_POLICY.retries),
    )
    .option(
      '--retry-delay <duration>',
      'first backoff delay; doubles per retry, with jitter',
      formatMs(DEFAULT_RETRY_POLICY.baseDelayMs),
    );
}

/** Builds the connection options: identity from `home`, the pin check for `target`, timeouts and retries. */
export async function connectOptionsOf(
  flags: ClientFlags,
  home: string,
  target: Target,
  signal: AbortSignal,
): Promise<ConnectOptions & { cacheDir: string }> {
  if (flags.expect !== undefined) checkExpectedId(flags.expect);
  const identity = await loadIdentity(home);
  return {
    server: { host: target.host, port: target.port },
    identity,
    verifyServer: async (publicKey) => {
      await checkServerKey(
        home,
        { address: target.address, publicKey },
        { expectId: flags.expect, acceptNew: flags.acceptNew ?? false, confirm: confirmOnTty() },
      );
    },
    // PROTOCOL.md §13: record the server's next-key commitment, follow a proven rotation.
    onServerKey: serverKeyUpdater(home, target.address, { signal }),
    connectTimeoutMs: parseMs(flags.connectTimeout, '--connect-timeout'),
    handshakeTimeoutMs: parseMs(flags.handshakeTimeout, '--handshake-timeout'),
    stallTimeoutMs: parseMs(flags.stallTimeout, '--stall-timeout'),
    progressTimeoutMs: positiveMs(flags.progressTimeout, '--progress-timeout'),
    retry: {
      retries: parseCount(flags.retries, '--retries'),
      baseDelayMs: parseMs(flags.retryDelay, '--retry-delay'),
    },
    cacheDir: join(home, 'cache'),
    // A recursive download into a directory that holds the home leaves the home alone (HomeInDestination).
    homeDir: home,
    signal,
  };
}

/**
 * Runs `work` with an AbortSignal that SIGINT/SIGTERM abort, so Ctrl-C stops cleanly: partial state stays
 * on the receiver and the same command resumes later.
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * `--expect ID` checked before anything connects: checked only against the key the server offered, a typo
 * in it cost a connection and was reported about the server's address (`not a valid ferry id:
 * 127.0.0.1:7443: ...`), as if the server had sent a bad ID.
 */
function checkExpectedId(text: string): void {
  try {
    parseFerryId(text);
  } catch (err) {
    if (!(err instanceof FerryError)) throw err;
    throw new FerryError(err.code, err.detail, {
      subject: '--expect',
      hint: "ask the server's operator for its ID (`ferry id` there, or the id: line of `ferry serve`)",
    });
  }
}

/** A duration that must not be zero: a zero progress timeout would fail every busy server at once. */
function positiveMs(text: string, flag: string): number {
  const ms = parseMs(text, flag);
  if (ms === 0) throw new FerryError('USAGE_INVALID', `${flag} must be longer than 0`);
  return ms;
}
