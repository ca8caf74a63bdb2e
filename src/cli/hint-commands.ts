/**
 * The subcommands a server's operator runs, on the server's home: after a client's command (`send`, `get`,
 * ...) a hint that names one of them (`ferry allow ID` on the server, `ferry id` there) is for another
 * machine, where this ferry's path means nothing.
 */
const SERVER_SIDE: ReadonlySet<string> = new Set([
  'allow',
  'revoke',
  'clients',
  'invite',
  'serve',
  'key',
  'id',
]);

/** The commands that run as a client of a server: after them, a server-side command is the operator's. */
const CLIENT_COMMANDS: ReadonlySet<string> = new Set(['send', 'get', 'ls', 'sync', 'pair', 'trust']);

/** A backquoted ferry command in a hint: `ferry`, its global options, its subcommand. */
const COMMAND = /`ferry((?: --home (?:'[^']*'|[^\s`]+))*) ([a-z-]+)/g;

/**
 * `hint` with each backquoted ferry command written as this shell runs ferry (`ferry` on the PATH, else
 * `./bin/ferry` or its path: ferryCommand), for it to be pasted: from a fresh clone "run `ferry keygen`
 * first" said "ferry: command not found". A command that the hint sends to the server's operator (a
 * server-side subcommand after the client command `failed`) keeps `ferry`: it runs on another machine.
 * The hints are ferry's own words (FerryError.hint), never the peer's.
 */
export function hintForThisShell(hint: string, ferry: string, failed: string | undefined): string {
  if (ferry === 'ferry') return hint;
  const elsewhere = failed !== undefined && CLIENT_COMMANDS.has(failed);
  return hint.replace(COMMAND, (whole, options: string, subcommand: string) =>
    elsewhere && SERVER_SIDE.has(subcommand) ? whole : `\`${ferry}${options} ${subcommand}`,
  );
}
