// `ferry sync --checksum` from a server compares each destination file with the server's by digest, and
// fetches it only when they differ: whether a file is fetched tells the server whether it matched. The local
// digest opened the destination's name following links, so a local user who may write in the destination
// could swap a file the walk saw for a link to a file of the user's alone (and back before the download),
// and a hostile server learnt whether that file holds its guess (it is not asked for it when it does). Now
// the digest opens only the file where the walk saw it (no link at the name or on the way). Real sockets on loopback, real files and links.
// The digests go 32 at a time: the server swaps the link in when it is asked for the first digest, so the
// 33rd file's is taken only after the swap, and nothing waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, symlinkSync } from 'node:fs';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { syncTree } from '../../src/client/index.js';
import { DEFAULT_CHUNK_BYTES, smallFileDigest, type Message } from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { file, refuseRef, SwappingServer } from './hostile-server.js';

const SIZE = 10;
const GUESS = Buffer.from('the guess\n');
const NAMES = [...Array.from({ length: 32 }, (_, i) => `a${String(i).padStart(2, '0')}`), 'z'];

/** Lists NAMES; answers a digest request (VERIFY_ONLY) with GUESS's, after `swap`; refuses downloads. */
class GuessingServer extends SwappingServer {
  protected override async answer(channel: SecureChannel, message: Message): Promise<void> {
    if (message.type === 'LIST_REQUEST') {
      const entries = NAMES.map((name) => file(name, SIZE));
      await channel.send({ type: 'LIST_ENTRIES', ref: message.ref, entries });
      const end = { totalEntries: entries.length, isFile: false, mode: 0o755 };
      await channel.send({ type: 'LIST_END', ref: message.ref, ...end, mtimeMs: 1_700_000_000_000 });
      return;
    }
    const refused = { status: 'refused' as const, code: ERROR_CODES.QUOTA_EXCEEDED.wire };
    if (message.type === 'GET_BATCH') {
      const entries = message.paths.map(() => refused);
      await channel.send({ type: 'GET_BATCH_DATA', ref: message.ref, entries });
      return;
    }
    if (message.type !== 'GET_REQUEST') return;
    const { ref } = message;
    if (!message.verifyOnly) return refuseRef(channel, ref, 'not served');
    this.swap();
    await channel.send({ type: 'GET_OFFER', ref, size: SIZE, mtimeMs: 0, mode: 0o644, heldAccepted: false });
    await channel.send({ type: 'GET_END', ref, fileDigest: smallFileDigest(GUESS, DEFAULT_CHUNK_BYTES) });
  }
}

test('sync --checksum never digests a file through a link swapped in after the walk', async (t) => {
  const dir = await makeTempDir('ferry-sync-checksum-swapped-');
  const server = await GuessingServer.start();
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  const dst = join(dir, 'dst');
  await mkdir(dst);
  for (const name of NAMES) {
    await writeFile(join(dst, name), Buffer.alloc(SIZE, 'o'));
    await utimes(join(dst, name), 1_700_000_000, 1_700_000_000);
  }
  // The user's own file, of the listed size, holding the server's guess.
  await writeFile(join(dir, 'private'), GUESS, { mode: 0o600 });
  let swapped = false;
  server.swap = () => {
    if (swapped) return;
    swapped = true;
    renameSync(join(dst, 'z'), join(dir, 'moved-z'));
    symlinkSync(join(dir, 'private'), join(dst, 'z'));
  };
  const planned: string[] = [];
  await syncTree({
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0 },
    localDir: dst,
    remotePath: 'src',
    direction: 'download',
    checksum: true,
    onEvent: (event) => {
      if (event.type === 'sync-action' && event.action === 'send') planned.push(event.path);
    },
  }).catch(() => undefined);
  // Before: the digest of `z` was the private file's, equal to the guess, so `z` was planned as identical
  // and not fetched (a local user who swaps the file back before the download makes every other answer a
  // fetch: the server learns whether the private file holds its guess). Now `z` is planned as a fetch, as
  // any file whose digest cannot be had, whatever the private file holds, and that file is left as it was.
  assert.ok(planned.includes('z'), `planned to fetch ${JSON.stringify(planned)}`);
  assert.equal(await readFile(join(dir, 'private'), 'utf8'), GUESS.toString());
});
