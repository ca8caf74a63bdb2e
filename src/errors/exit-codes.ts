import type { ErrorCategory } from './error-codes.js';

/**
 * The CLI's exit status for each error category: the only place exit codes are chosen. Stable, so
 * scripts can branch on them (documented in the README).
 */
export const EXIT_CODES: Readonly<Record<ErrorCategory, number>> = {
  usage: 2,
  config: 3,
  trust: 4,
  network: 5,
  protocol: 6,
  path: 7,
  transfer: 8,
  storage: 9,
  internal: 70,
  aborted: 130,
};
