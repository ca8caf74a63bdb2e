// A real server holding `payload.bin` of `fileBytes`, reached through a fault proxy that cuts the first
// connection at half of it, server to client: the first `get` fails and leaves the client's partial in
// `dest` (`.payload.bin.ferry-part` and `.ferry-state`), and the next resumes it.
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { getFiles, type DownloadResult } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { FaultProxy } from './fault-proxy.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';
import { writeRandomFile } from './random-file.js';

export interface CutDownloadRig {
  /** SHA-256 (hex) of the served file. */
  sourceSha: string;
  /** The local directory downloaded into. */
  dest: string;
  get(retries: number): Promise<DownloadResult>;
}

export async function cutDownloadRig(
  t: TestContext,
  fileBytes: number,
  chunkBytes: number,
): Promise<CutDownloadRig> {
  const dir = await makeTempDir('ferry-cut-download-');
  const clientIdentity = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    host: '127.0.0.1',
    port: 0,
    identity: generateKeyPair(),
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    partialSweepIntervalMs: 0,
  });
  const proxy = await FaultProxy.start({
    target: server.address,
    plan: (i) =>
      i === 0
        ? { cut: { afterBytes: Math.floor(fileBytes / 2), direction: 'serverToClient', landed: true } }
        : undefined,
  });
  t.after(async () => {
    await proxy.close();
    await server.close();
    await removeTempDir(dir);
  });
  const sourceSha = await writeRandomFile(join(server.root, 'payload.bin'), fileBytes);
  const dest = join(dir, 'dest');
  return {
    sourceSha,
    dest,
    get: async (retries) => {
      const [result] = await getFiles({
        server: proxy.address,
        identity: clientIdentity,
        verifyServer: () => undefined,
        retry: { retries },
        remotePaths: ['payload.bin'],
        localDir: dest,
        chunkBytes,
        durableBatchBytes: chunkBytes,
      });
      return result!;
    },
  };
}
