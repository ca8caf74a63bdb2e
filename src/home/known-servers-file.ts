import { join } from 'node:path';
import { atomicWriteFile } from './atomic-write-file.js';
import { knownServersText, validateKnownServers, type KnownServer } from './known-servers-json.js';
import { readConfigFile } from './read-config-file.js';

/** File name of the client's pinned server keys inside the home directory. */
export const KNOWN_SERVERS_FILE = 'known-servers.json';

/** The path of the known-servers file in a home directory. */
export function knownServersPath(homeDir: string): string {
  return join(homeDir, KNOWN_SERVERS_FILE);
}

/** The pins in the known-servers file of `homeDir`; none when there is no file. */
export async function readKnownServerEntries(
  homeDir: string,
  signal: AbortSignal | undefined,
): Promise<Map<string, KnownServer>> {
  const path = knownServersPath(homeDir);
  const read = await readConfigFile(path, { signal });
  if (read.status !== 'read') return new Map();
  return validateKnownServers(read.json, path);
}

/** Replaces the known-servers file of `homeDir` with `servers`: atomic write, mode 0600. */
export async function writeKnownServers(
  homeDir: string,
  servers: ReadonlyMap<string, KnownServer>,
  signal: AbortSignal | undefined,
): Promise<void> {
  await atomicWriteFile(knownServersPath(homeDir), knownServersText(servers), { mode: 0o600, signal });
}
