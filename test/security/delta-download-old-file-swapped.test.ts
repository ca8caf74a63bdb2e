// A delta download (PROTOCOL.md §5.17) scans the old local file against the server's signature and tells the
// server which of its blocks it found (the second request's PATCH pieces or held leaves): docs/SECURITY.md
// accepts that a server learns which of its guessed blocks the file the user replaces holds. The scan opened
// that file by name, not following a link at the name but following one on its way: a local user who may
// write where the user downloads (a shared tree) could swap a directory on the way for a link to a private
// directory of the user's holding the same name, after the destination was resolved, and a hostile server
// then learnt which of its guessed blocks that file, readable by the user alone, holds.
// Now the scan opens the old file only where the destination was resolved (`rooted`: the kernel's path of
// the descriptor is checked). Real sockets on loopback, real files and links; the hostile server swaps the
// directory itself when the signature is asked for, so nothing waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, symlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { getFiles } from '../../src/client/index.js';
import {
  LEAF_BYTES,
  chunkHashOf,
  deltaBlockBytesFor,
  deltaSignatureOf,
  fileDigest,
  type Message,
} from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { refuseRef, SwappingServer } from './hostile-server.js';

/** The user's secret, 8 KiB: the server guesses all of it but its last KiB. */
const SECRET = Buffer.alloc(8192, 's');
const GUESS = Buffer.concat([SECRET.subarray(0, 7168), Buffer.alloc(1024, 'g')]);

/** Serves GUESS's signature to a delta request, after running `swap`; then refuses the second request. */
class GuessingServer extends SwappingServer {
  /** The second requests of the download: each tells which blocks of GUESS the old file held. */
  get told(): Message[] {
    return this.received.filter((m) => m.type === 'GET_REQUEST' && !m.signature);
  }

  protected override async answer(channel: SecureChannel, message: Message): Promise<void> {
    if (await this.answerAsFile(channel, message)) return;
    if (message.type !== 'GET_REQUEST') return;
    const { ref } = message;
    if (!message.signature) return refuseRef(channel, ref, 'seen enough');
    this.swap();
    const offer = { size: GUESS.length, mtimeMs: 0, mode: 0o644, heldAccepted: false, signature: true };
    await channel.send({ type: 'GET_OFFER', ref, ...offer });
    const signature = deltaSignatureOf(GUESS, deltaBlockBytesFor(GUESS.length));
    const { oldSize, blockBytes, weak, strong } = signature;
    await channel.send({ type: 'DELTA_BLOCKS', ref, oldSize, blockBytes, firstBlock: 0, weak, strong });
    const digest = fileDigest(GUESS.length, LEAF_BYTES, [chunkHashOf(GUESS)]);
    await channel.send({ type: 'GET_END', ref, fileDigest: digest });
  }
}

test('a delta download never scans a file reached through a directory swapped for a link', async (t) => {
  const dir = await makeTempDir('ferry-delta-old-swapped-');
  const server = await GuessingServer.start();
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  // The user downloads into shared/in, whose parent another local user may write; the user's private
  // directory holds a file of the same name, readable by the user alone.
  const into = join(dir, 'shared', 'in');
  await mkdir(into, { recursive: true });
  await writeFile(join(into, 'f.bin'), Buffer.alloc(8192, 'o'));
  await mkdir(join(dir, 'private'), { mode: 0o700 });
  await writeFile(join(dir, 'private', 'f.bin'), SECRET, { mode: 0o600 });
  server.swap = () => {
    renameSync(into, join(dir, 'shared', 'moved'));
    symlinkSync(join(dir, 'private'), into);
  };
  await getFiles({
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0 },
    remotePaths: ['f.bin'],
    localDir: into,
    overwrite: true,
  }).catch(() => undefined);
  // Before: the scan read the secret and the second request's PATCH asked only for its last KiB, telling the
  // server that the first 7 KiB of its guess were right.
  assert.deepEqual(server.told, []);
});
