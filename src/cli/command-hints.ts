import type { Command } from 'commander';
import { withKeygenHint } from './keygen-hint.js';
import { withTrustHint } from './trust-hint.js';

/**
 * `err` with the hints that name the home `command` read (`ferry --home DIR keygen`, `ferry --home DIR trust
 * ...`): the one place both the stderr line (main) and `--json`'s summary `message` (ProgressReporter) take
 * them from. Two chains kept by hand had drifted: the line named `--home DIR`, the JSON message did not.
 */
export function withCommandHints(err: unknown, command: Command | undefined): unknown {
  return withTrustHint(withKeygenHint(err, command), command);
}
