// What a fake ferry server (fake-ferry-server.ts) says to open a delta download and what the client's side of
// it is, for the tests that attack what follows: a signed GET_OFFER (PROTOCOL.md §5.17: the server sends the
// signature of its file), a first signature record of one block, and a get of the fake server's files over
// old local files (which makes each a delta download), with no retry and no trust prompt.
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { getFiles, type DownloadResult } from '../../src/client/index.js';
import type { GetFilesOptions } from '../../src/client/get-files.js';
import { LEAF_BYTES } from '../../src/protocol/index.js';
import type { FakeFerryServer } from './fake-ferry-server.js';

/** Sends a GET_OFFER of `size` bytes for request `ref` with SIGNATURE: its signature records come next. */
export async function sendSignedOffer(channel: SecureChannel, ref: number, size: number): Promise<void> {
  await channel.send({
    type: 'GET_OFFER',
    ref,
    size,
    mtimeMs: 0,
    mode: 0o644,
    heldAccepted: false,
    signature: true,
  });
}

/**
 * Sends a first signature record in leaves (§5.17.2) for request `ref`: one block of LEAF_BYTES, its sums
 * made up, of a file of `oldSize` bytes (the offer's size, or another to contradict it).
 */
export async function sendOneSignatureRecord(
  channel: SecureChannel,
  ref: number,
  oldSize: number,
): Promise<void> {
  await channel.send({
    type: 'DELTA_BLOCKS',
    ref,
    oldSize,
    blockBytes: LEAF_BYTES,
    firstBlock: 0,
    weak: new Uint32Array([1]),
    strong: Buffer.alloc(16, 7),
  });
}

/**
 * Gets `remotePaths` from `server` into `localDir`, replacing the old files there (each then a delta
 * download), as a new client that trusts any key and never retries.
 */
export function getFromFake(
  server: FakeFerryServer,
  request: Pick<GetFilesOptions, 'remotePaths' | 'localDir' | 'stallTimeoutMs'>,
): Promise<DownloadResult[]> {
  return getFiles({
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0 },
    overwrite: true,
    ...request,
  });
}
