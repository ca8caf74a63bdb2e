import type { RekeyClock } from '../channel/index.js';
import type { KeyPair } from '../crypto/index.js';
import type { KeyCommitMessage, KeyRotateMessage, ParallelOpener } from '../protocol/index.js';

/** How a `ClientSession` connects, checks the server, watches the session and hears of key changes. */
export interface ClientSessionOptions {
  identity: KeyPair;
  /** Checks the server's key before the client reveals its own (PROTOCOL.md §3.2.1); throws to refuse. */
  verifyServer: (publicKey: Buffer) => Promise<void> | void;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  stallTimeoutMs?: number;
  /**
   * How long a server may send only KEEPALIVE, on top of the time the sizes it may be hashing allow
   * (`ProgressWatchdog`; default `PROGRESS_TIMEOUT_MS`), before the session fails with NO_PROGRESS.
   */
  progressTimeoutMs?: number;
  /** The progress watchdog's clock (ms); tests inject one. Default `performance.now`. */
  progressClock?: () => number;
  /**
   * Starts calling `check` now and then (the arrival check of `ProgressWatchdog`) and returns how to stop;
   * tests inject one to call it themselves. Default: every PROGRESS_CHECK_MS, unref'd.
   */
  progressTicker?: (check: () => void) => () => void;
  signal?: AbortSignal | undefined;
  /**
   * What to do with the server's word on its keys after WELCOME (KEY_COMMIT, KEY_ROTATE; PROTOCOL.md §13):
   * record the commitment, or check the rotation and move the pin (see serverKeyUpdater). Awaited before the
   * next message is read; a throw fails the session. Without it both messages are ignored.
   */
  onServerKey?: ServerKeyHandler | undefined;
  /** The session keys' time bound (PROTOCOL.md §4.3); tests inject a clock. Default: 2 minutes, `performance.now`. */
  rekey?: RekeyClock;
  /**
   * Worker threads that open and hash the records this session receives (downloads; issue 14): a `SealPool`.
   * Undefined: the event loop opens them as they arrive.
   */
  openPool?: ParallelOpener | undefined;
}

/** The facts of this session a key-rotation check needs (PROTOCOL.md §13.3). */
export interface ServerKeyContext {
  readonly handshakeHash: Buffer;
  /** The key this session was authenticated with (the pinned one). */
  readonly serverKey: Buffer;
  readonly identity: KeyPair;
}

export type ServerKeyHandler = (
  message: KeyCommitMessage | KeyRotateMessage,
  context: ServerKeyContext,
) => Promise<void>;
