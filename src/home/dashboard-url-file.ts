import { join } from 'node:path';
import { atomicWriteFile } from './atomic-write-file.js';

/** Where `ferry serve --dashboard` keeps its page's URL, token included, for the operator alone. */
export const DASHBOARD_URL_FILE = 'dashboard-url';

/**
 * Writes the dashboard's URL with its token into the home, mode 0600 in a home no one else may write, and
 * returns the file's path. The banner gives the token only to a terminal: a server's stdout is as often a
 * service journal (`journalctl -u ferry`, which the adm group reads) or a file the shell made 0644
 * (`>>serve.log 2>&1`, README "Running a server"), and anyone who reads the token may open the dashboard on
 * loopback and watch every client's names and transfers. Replaced on every start (a new token each run).
 */
export async function recordDashboardUrl(homeDir: string, url: string): Promise<string> {
  const path = join(homeDir, DASHBOARD_URL_FILE);
  await atomicWriteFile(path, `${url}\n`, { mode: 0o600 });
  return path;
}
