import { HANDSHAKE_TIMEOUT_MS } from '../channel/index.js';
import { DEFAULT_PORT } from '../protocol/index.js';
import { DURABLE_BATCH_BYTES } from '../transfer/index.js';
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './connection-gate.js';
import { DEFAULT_HANDSHAKE_RATE_LIMITS, type HandshakeRateLimits } from './handshake-rate-limit.js';
import { SERVER_IDLE_TIMEOUT_MS } from './serve-options.js';
import { CLOSE_GRACE_MS } from './close-options.js';
import {
  PART_MEMORY_PER_CLIENT_BYTES,
  PART_MEMORY_TOTAL_BYTES,
  type PartMemoryOptions,
} from './part-memory.js';
import { PARTIAL_MAX_AGE_MS } from './partial-sweeper.js';
import { LISTING_MEMORY } from './listing-memory.js';
import { DOWNLOAD_MEMORY } from './download-memory.js';
import { UPLOAD_MEMORY } from './upload-memory.js';
import { MAX_PARTIALS_PER_CLIENT, MIN_FREE_DISK_BYTES, UPLOAD_STALL_TIMEOUT_MS } from './storage-limits.js';

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
  /** How long an upload's promise of disk outlasts its data (`StorageLimits.dataArrived`). */
  readonly uploadStallTimeoutMs: number;
  readonly limits: Readonly<ConnectionLimits>;
  /**
   * Handshakes per source (IPv4 address, IPv6 /64): 16 per second after a burst of 64. An honest client
   * starts a few sessions per second at most (`--streams 16` opens 17 at once, retries back off), so these
   * never touch it, while one source flooding message 1s gets at most 16 ms of server CPU per second
   * (docs/SECURITY.md, "Handshakes under load"; the reasoning in full at DEFAULT_HANDSHAKE_RATE_LIMITS).
   */
  readonly handshakeRate: Readonly<HandshakeRateLimits>;
  /** Bytes uploads to an object store may hold in parts, per client and in total (`PartMemory`). */
  readonly partMemory: Readonly<Required<PartMemoryOptions>>;
  /** Bytes object-store listings may hold while they collect, per client and in total (listing-memory.ts). */
  readonly listingMemory: Readonly<Required<PartMemoryOptions>>;
  /** Bytes downloads' blocks beyond each stream's first may hold, per client and in total (download-memory.ts). */
  readonly downloadMemory: Readonly<Required<PartMemoryOptions>>;
  /** Bytes uploads hold received and not yet written, per client and in total (upload-memory.ts). */
  readonly uploadMemory: Readonly<Required<PartMemoryOptions>>;
  /** How long `close` waits for the sessions to end (`CloseOptions.graceMs`; `ferry serve --stop-grace`). */
  readonly closeGraceMs: number;
} = Object.freeze({
  port: DEFAULT_PORT,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  idleTimeoutMs: SERVER_IDLE_TIMEOUT_MS,
  durableBatchBytes: DURABLE_BATCH_BYTES,
  partialMaxAgeMs: PARTIAL_MAX_AGE_MS,
  minFreeDiskBytes: MIN_FREE_DISK_BYTES,
  maxPartialsPerClient: MAX_PARTIALS_PER_CLIENT,
  uploadStallTimeoutMs: UPLOAD_STALL_TIMEOUT_MS,
  limits: DEFAULT_CONNECTION_LIMITS,
  handshakeRate: DEFAULT_HANDSHAKE_RATE_LIMITS,
  partMemory: Object.freeze({
    perClientBytes: PART_MEMORY_PER_CLIENT_BYTES,
    totalBytes: PART_MEMORY_TOTAL_BYTES,
  }),
  listingMemory: LISTING_MEMORY,
  downloadMemory: DOWNLOAD_MEMORY,
  uploadMemory: UPLOAD_MEMORY,
  closeGraceMs: CLOSE_GRACE_MS,
});
