// A DISK_FULL refusal says how much of the disk partials of interrupted uploads hold and when they go (stop
// 31). An upload refused for the server's free-space reserve said only that the file did not fit; on a server
// whose partials of cut uploads held the room (their promises stand until placed or swept), the user could not
// tell that waiting, or the operator's sweep, would free it, nor that resuming those uploads frees nothing.
// The detail now counts them (count and bytes, never a path: it travels, PROTOCOL.md §5.1) and says when the
// sweeper removes them; a partial some session is still writing is not named. Real server on a real 32 MiB
// tmpfs (needs root), raw sessions on loopback.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { PERMISSION_UPLOAD, type Message } from '../../src/protocol/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';
import { fillOpenPartial } from '../helpers/partial-bytes.js';
import { oneByteOffer } from '../helpers/small-upload-messages.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const MiB = 1024 * 1024;

/** A PUT_OFFER of `size` bytes in 1 MiB chunks, replacing nothing. */
function offerOf(ref: number, path: string, size: number): Message {
  return { ...oneByteOffer(ref, path), size, chunkBytes: MiB, overwrite: false } as Message;
}

/** Offers `path` and returns the answer: its type, and the ERROR's code name and detail. */
async function offer(channel: SecureChannel, ref: number, path: string, size: number): Promise<string> {
  await channel.send(offerOf(ref, path, size));
  const reply = await channel.receive();
  assert.equal('ref' in reply ? reply.ref : undefined, ref, JSON.stringify(reply));
  if (reply.type !== 'ERROR') return reply.type;
  const code = Object.entries(ERROR_CODES).find(([, spec]) => spec.wire === reply.code)?.[0];
  return `ERROR ${code}: ${reply.detail}`;
}

/** A server on a 32 MiB tmpfs keeping 8 MiB free, its partials swept 2 h after their last write. */
async function smallDiskServer(
  t: TestContext,
): Promise<{ root: string; channel: SecureChannel; another: () => Promise<SecureChannel> }> {
  const fs = await mountSmallFilesystem(t, 32 * MiB);
  const root = join(fs, 'root');
  const client = generateKeyPair();
  const { server } = await startTempDirServer(t, 'ferry-disk-full-partials-', {
    root,
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    minFreeDiskBytes: 8 * MiB,
    partialMaxAgeMs: 2 * 3600 * 1000,
    partialSweepIntervalMs: 3600 * 1000,
  });
  const another = (): Promise<SecureChannel> => openAdmittedSession(t, server.address, client);
  return { root, channel: await another(), another };
}

test('DISK_FULL names the bytes partials of interrupted uploads hold and when they are swept, and no path', async (t) => {
  const { root, channel } = await smallDiskServer(t);
  // A partial holding 12 MiB that its upload left (CANCEL keeps it for a resume, §5.9).
  assert.equal(await offer(channel, 1, 'cut-upload.bin', 12 * MiB), 'PUT_ACCEPT');
  await fillOpenPartial(root, 12 * MiB);
  await channel.send({ type: 'CANCEL', ref: 1 });
  const refused = await offer(channel, 2, 'next.bin', 12 * MiB);
  assert.match(refused, /^ERROR DISK_FULL: /);
  assert.match(refused, /1 partial of your interrupted uploads holds 12\.0 MiB of the disk/, refused);
  assert.match(refused, /resuming them uses, not frees/, refused);
  assert.match(refused, /removed 2 h after their last write/, refused);
  assert.ok(!refused.includes(root) && !refused.includes('cut-upload'), `no path in ${refused}`);
});

test('DISK_FULL does not count a partial a session is still writing as interrupted', async (t) => {
  const { channel, another } = await smallDiskServer(t);
  assert.equal(await offer(channel, 1, 'writing.bin', 12 * MiB), 'PUT_ACCEPT');
  // A session has one upload open at a time (§5.3): the next offer comes on a second session.
  const refused = await offer(await another(), 1, 'next.bin', 12 * MiB);
  assert.match(refused, /^ERROR DISK_FULL: /);
  assert.doesNotMatch(refused, /interrupted/, refused);
});
