/** What `ferry serve`'s banner says: the server as it started, and how to reach its home and its dashboard. */
export interface ServeBannerFacts {
  /** The server's ferry ID. */
  id: string;
  /** Whether this start made the identity. */
  created: boolean;
  /** The listening address, as a client types it. */
  address: string;
  /** The dashboard's URL (with its token) and the file that keeps it for the operator; undefined: none. */
  dashboard?: { url: string; urlFile: string } | undefined;
  /** Whether stdout is a terminal: only then does the banner show the dashboard's token. */
  toTerminal: boolean;
  /** `store:` (an object store) or `root:`, with its value. */
  place: { label: 'store' | 'root'; value: string };
  home: string;
  /** How to run this ferry (`ferry`, or a path when the PATH has none or another). */
  ferry: string;
  /** The admin command on this server's home (`ferry --home HOME`). */
  admin: string;
  /** ` --coordination ...` for a cluster member, else ''. */
  cluster: string;
}

/**
 * The banner `ferry serve` prints once it is ready: what it is, then what to do next. The dashboard's token
 * goes only to a terminal (stop 42): a journal or a log file (README's `>> serve.log`) gets the address and
 * the path of the 0600 file holding the URL instead.
 */
export function serveBanner(facts: ServeBannerFacts): string {
  const { id, address, dashboard, ferry, admin, cluster } = facts;
  const dashboardLines =
    dashboard === undefined
      ? []
      : facts.toTerminal
        ? [`  dashboard:  ${dashboard.url}`]
        : [
            `  dashboard:  ${dashboard.url.slice(0, dashboard.url.indexOf('?'))}`,
            `              its URL with the token, for you alone: ${dashboard.urlFile}`,
          ];
  return [
    // Said on the first line: after the id it made that line 91 columns.
    `ferry server ready${facts.created ? ', with a new identity' : ''}`,
    `  id:         ${id}`,
    `  listen:     ${address}`,
    ...dashboardLines,
    `  ${`${facts.place.label}:`.padEnd(12)}${facts.place.value}`,
    `  home:       ${facts.home}`,
    '',
    'Next, let a client in. Easiest, with a one-time pairing code:',
    `  here:           ${admin} invite --name laptop${cluster}`,
    `  on the client:  ${ferry} keygen  # once, if it has no identity yet`,
    '                  the `ferry pair ...` line invite prints, then',
    `                  ${ferry} send FILE ${address}`,
    'Or by key:',
    `  on the client:  ${ferry} keygen  # once; prints the client ID`,
    `  here:           ${admin} allow CLIENT_ID --name laptop${cluster}`,
    // Within 80 columns but for the paths: the ID goes on a line of its own, continued for the shell.
    `  on the client:  ${ferry} send FILE ${address} \\`,
    `    --expect ${id}`,
    ...(dashboard
      ? [`Watch it: open the dashboard URL ${facts.toTerminal ? 'above' : 'in that file'} in a browser.`]
      : []),
    ...(ferry === 'ferry'
      ? []
      : [
          `${ferry} is this ferry: the PATH has no \`ferry\`, or another one`,
          '(README.md, "Install" puts this one there).',
        ]),
    '',
  ].join('\n');
}
