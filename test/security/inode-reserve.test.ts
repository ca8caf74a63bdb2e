// The free-disk reserve (`--min-free-disk`, docs/SECURITY.md "Disk reserve") kept bytes for the server's own
// bookkeeping (partials, state logs, the allow-list and invites pairing writes) but not the inodes every file,
// directory and link needs: an allowed client with the upload permission, even one confined to its own
// `--root`, could make files, directories or links of no bytes until the file system had no inode left, and
// every other client's uploads and the server's own writes then failed, with bytes to spare. Now the reserve
// keeps an inode per ENTRY_BYTES (4 KiB) of it as well. Real Noise sessions on loopback and a real tmpfs with
// few inodes (needs root, as the byte reserve's test).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { FerryServer } from '../../src/server/index.js';
import { ENTRY_BYTES } from '../../src/server/storage-limits.js';
import {
  PERMISSION_UPLOAD,
  chunkHashOf,
  fileDigest,
  type BatchEntry,
  type Message,
} from '../../src/protocol/index.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { RawUpload } from '../helpers/raw-upload.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
/** The byte reserve: 2 MiB, so 512 inodes kept. */
const RESERVE_BYTES = 2 * MiB;
const RESERVED_INODES = RESERVE_BYTES / ENTRY_BYTES;
/** Inodes of the test's file system: the reserve and 400 more. */
const INODES = RESERVED_INODES + 400;

async function rig(t: TestContext): Promise<{
  root: string;
  session: SecureChannel;
  address: { host: string; port: number };
  client: KeyPair;
}> {
  const fs = await mountSmallFilesystem(t, 64 * MiB, INODES);
  const root = join(fs, 'root');
  const client = generateKeyPair();
  const server = await FerryServer.start({
    root,
    port: 0,
    identity: generateKeyPair(),
    partialSweepIntervalMs: 0,
    minFreeDiskBytes: RESERVE_BYTES,
    authorize: (key) => (key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD } : undefined),
  });
  t.after(() => server.close());
  const session = await openAdmittedSession(t, server.address, client);
  return { root, session, address: server.address, client };
}

function oneByte(path: string): BatchEntry {
  const data = Buffer.from('x');
  return {
    size: 1,
    mtimeMs: 1_700_000_000_000,
    mode: 0o644,
    fileDigest: fileDigest(1, CHUNK, [chunkHashOf(data)]),
    path,
    data,
  };
}

async function freeInodes(root: string): Promise<number> {
  return (await statfs(root)).ffree;
}

test('batches of one-byte files stop at the inode reserve (DISK_FULL), with inodes left for the server', async (t) => {
  const { root, session } = await rig(t);
  let refused: number[] = [];
  for (let ref = 1; refused.length === 0 && ref < 10; ref++) {
    const entries = Array.from({ length: 256 }, (_, i) => oneByte(`d${ref}-${i}.txt`));
    await session.send({ type: 'PUT_BATCH', ref, overwrite: false, chunkBytes: CHUNK, entries });
    await session.send({ type: 'BATCH_END', ref, totalEntries: entries.length });
    const done = await receiveMessage(session, 'BATCH_DONE');
    refused = done.results.flatMap((r) => (r.status === 'refused' ? [r.code] : []));
  }
  // Before: the byte reserve saw 4 KiB an entry of 64 MiB (room for 16,384) and the entries went on until
  // tmpfs refused new files (ENOSPC), leaving the server no inode of the reserve.
  assert.ok(refused.length > 0, 'nothing refused');
  assert.ok(
    refused.every((code) => code === ERROR_CODES.DISK_FULL.wire),
    `refused with ${refused.join(', ')}`,
  );
  const left = await freeInodes(root);
  assert.ok(left >= RESERVED_INODES - 2, `${left} inodes left, ${RESERVED_INODES} kept`);
});

test('directories and links made one request at a time stop at the inode reserve too', async (t) => {
  const { root, session } = await rig(t);
  let answer: Message | undefined;
  for (let ref = 1; ref <= INODES; ref++) {
    const message: Message =
      ref % 2 === 0
        ? { type: 'PUT_DIR', ref, path: `dir-${ref}`, mode: 0o755, mtimeMs: 1_700_000_000_000 }
        : {
            type: 'PUT_LINK',
            ref,
            path: `link-${ref}`,
            target: 'nowhere',
            overwrite: false,
            mtimeMs: 1_700_000_000_000,
          };
    await session.send(message);
    answer = await session.receive();
    if (answer.type !== 'ACK') break;
  }
  assert.ok(answer?.type === 'ERROR', `last answer ${JSON.stringify(answer)}`);
  assert.equal(answer.code, ERROR_CODES.DISK_FULL.wire);
  const left = await freeInodes(root);
  assert.ok(left >= RESERVED_INODES - 2, `${left} inodes left, ${RESERVED_INODES} kept`);
});

test('a resumed upload at the inode reserve is accepted: its partial is there, it makes no new file', async (t) => {
  const { root, session, address, client } = await rig(t);
  const upload = new RawUpload(Buffer.alloc(4 * CHUNK, 7), CHUNK);
  await session.send(upload.offer(1));
  assert.deepEqual((await receiveMessage(session, 'PUT_ACCEPT')).ranges, []);
  // Cut: the partial (data and state log) stays for a resume.
  session.close();
  const again = await openAdmittedSession(t, address, client);
  // Directories until the reserve refuses one: then exactly the reserved inodes are free.
  let answer: Message | undefined;
  for (let ref = 1; ref <= INODES; ref++) {
    await again.send({ type: 'PUT_DIR', ref, path: `dir-${ref}`, mode: 0o755, mtimeMs: 1_700_000_000_000 });
    answer = await again.receive();
    if (answer.type !== 'ACK') break;
  }
  assert.equal(answer?.type === 'ERROR' && answer.code, ERROR_CODES.DISK_FULL.wire);
  assert.equal(await freeInodes(root), RESERVED_INODES);
  // Before: refused DISK_FULL like a new file ("a new entry needs an inode").
  await again.send(upload.offer(INODES + 1));
  const resumed = await again.receive();
  assert.equal(resumed.type, 'PUT_ACCEPT', JSON.stringify(resumed));
});
