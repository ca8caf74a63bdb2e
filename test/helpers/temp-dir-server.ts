// A real FerryServer on a loopback port, serving `root` inside a fresh temporary directory; the server is
// closed and the directory removed when the test ends.
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer, type ServeOptions } from '../../src/server/index.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

/**
 * Starts a server with a fresh identity on port 0, no partial sweep (tests drive time), root `DIR/root`;
 * `options` add to or override those.
 */
export async function startTempDirServer(
  t: TestContext,
  prefix: string,
  options: Partial<ServeOptions> & Pick<ServeOptions, 'authorize'>,
): Promise<{ dir: string; server: FerryServer }> {
  const dir = await makeTempDir(prefix);
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    partialSweepIntervalMs: 0,
    ...options,
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  return { dir, server };
}
