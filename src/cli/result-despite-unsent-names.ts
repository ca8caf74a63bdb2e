import { UnsentNamesError } from '../client-api.js';

/**
 * A run's `.catch`: what it would have resolved with when it failed only for names the wire cannot carry
 * (UnsentNamesError), else its error again. The CLI tells and counts those names itself as they are skipped
 * (`onSkip`'s `unsendable-name`), prints its summary, and fails the run after it with its own error (exit 7).
 */
export function resultDespiteUnsentNames<R>(err: unknown): R {
  if (err instanceof UnsentNamesError) return err.result as R;
  throw err;
}
