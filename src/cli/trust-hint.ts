import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';
import type { GlobalOptions } from './cli-context.js';
import { shellWord } from './shell-word.js';

/** The codes whose hint names `ferry trust ADDRESS ID` (home/known-servers.ts). */
const TRUST_HINTED: ReadonlySet<string> = new Set(['SERVER_KEY_UNKNOWN', 'SERVER_KEY_CHANGED']);

/**
 * An unknown or changed server key says "run `ferry trust ADDRESS ID`", which pins in the default home: a
 * command given `--home DIR` failed the same way once that was run, the pin made in another home. Names the
 * home this command read in the trust command (`ferry --home DIR trust ...`), as KEY_NOT_FOUND's keygen
 * (keygen-hint.ts); `$FERRY_HOME` is left out, as the shell that set it keeps it.
 */
export function withTrustHint(err: unknown, command: Command | undefined): unknown {
  if (!(err instanceof FerryError) || !TRUST_HINTED.has(err.code) || command === undefined) return err;
  const home = command.optsWithGlobals<GlobalOptions>().home;
  const hint = err.hint;
  if (home === undefined || hint === undefined || !hint.includes(TRUST)) return err;
  return new FerryError(err.code, err.detail, {
    cause: err,
    remote: err.remote,
    subject: err.subject,
    hint: hint.replaceAll(TRUST, `\`ferry --home ${shellWord(home)} trust `),
  });
}

/** How the hint's command starts: `ferry trust `, in backquotes. */
const TRUST = '`ferry trust ';
