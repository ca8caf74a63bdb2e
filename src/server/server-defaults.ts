import { HANDSHAKE_TIMEOUT_MS } from '../channel/index.js';
import { DEFAULT_PORT } from '../protocol/index.js';
import { DURABLE_BATCH_BYTES } from '../transfer/index.js';
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './connection-gate.js';
import { SERVER_IDLE_TIMEOUT_MS } from './ferry-server.js';
import { PARTIAL_MAX_AGE_MS } from './partial-sweeper.js';
import { MAX_PARTIALS_PER_CLIENT, MIN_FREE_DISK_BYTES } from './storage-limits.js';

/**
 * What `FerryServer.start` uses for each option left out. Front ends (the CLI's `ferry serve` flags) show
 * and pass these instead of repeating the numbers, so a default changes in one place.
 */
export const SERVER_DEFAULTS: {
  readonly port: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly durableBatchBytes: number;
  readonly partialMaxAgeMs: number;
  readonly minFreeDiskBytes: number;
  readonly maxPartialsPerClient: number;
  readonly limits: Readonly<ConnectionLimits>;
} = Object.freeze({
  port: DEFAULT_PORT,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  idleTimeoutMs: SERVER_IDLE_TIMEOUT_MS,
  durableBatchBytes: DURABLE_BATCH_BYTES,
  partialMaxAgeMs: PARTIAL_MAX_AGE_MS,
  minFreeDiskBytes: MIN_FREE_DISK_BYTES,
  maxPartialsPerClient: MAX_PARTIALS_PER_CLIENT,
  limits: DEFAULT_CONNECTION_LIMITS,
});
