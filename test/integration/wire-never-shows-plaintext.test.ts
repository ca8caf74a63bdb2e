// A real upload (library API, real loopback sockets, real files) through a recording proxy: whatever an
// eavesdropper on the wire sees, in either direction, must reveal neither the file's bytes nor its name.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryServer, generateKeyPair, sendFiles } from '../../src/index.js';
import { PERMISSION_UPLOAD, VERSION_OFFER_BYTES } from '../../src/protocol/index.js';
import { CaptureProxy } from '../helpers/capture-proxy.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const PLAINTEXT_BYTES = 1024 * 1024;
const FILE_NAME = 'quarterly-ferry-secret-plans.txt';
const REMOTE_DIR = 'classified-drop';
const WINDOW_BYTES = 16;
const WINDOW_STRIDE = 997; // prime, so the sampled windows fall at every phase of the repeating text

/** Highly recognisable text: `ferry-secret-0 ferry-secret-1 ...`, cut to `size` bytes. */
function recognisablePlaintext(size: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const part = `ferry-secret-${i} `;
    parts.push(part);
    length += part.length;
  }
  return Buffer.from(parts.join('').slice(0, size), 'latin1');
}

/** Share of the most frequent byte value, and the chi-square statistic against uniform bytes (255 dof). */
function byteStatistics(bytes: Buffer): { maxShare: number; chiSquare: number } {
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b]!++;
  const expected = bytes.length / 256;
  let chiSquare = 0;
  for (const c of counts) chiSquare += (c - expected) ** 2 / expected;
  return { maxShare: Math.max(...counts) / bytes.length, chiSquare };
}

/** True when no byte value is over-represented: what ciphertext looks like and structured data does not. */
function looksRandom(bytes: Buffer): boolean {
  const { maxShare, chiSquare } = byteStatistics(bytes);
  // Uniform bytes: each value ~0.39 %, chi-square ~255 +- 23. Both bounds are loose on purpose.
  return maxShare < 0.02 && chiSquare < 2 * 255;
}

let dir: string;
let server: FerryServer | undefined;
let proxy: CaptureProxy | undefined;

before(async () => {
  dir = await makeTempDir();
});

after(async () => {
  await proxy?.close();
  await server?.close();
  await removeTempDir(dir);
});

test('neither direction of an upload shows any 16-byte window of the file or its name, and the records look random', async () => {
  const serverIdentity = generateKeyPair();
  const clientIdentity = generateKeyPair();
  const root = join(dir, 'root');
  server = await FerryServer.start({
    root,
    port: 0,
    identity: serverIdentity,
    authorize: (key) =>
      key.equals(clientIdentity.publicKey) ? { permissions: PERMISSION_UPLOAD } : undefined,
  });
  proxy = await CaptureProxy.start(server.address);

  const plaintext = recognisablePlaintext(PLAINTEXT_BYTES);
  // The checks must have teeth: the plaintext itself fails them.
  assert.equal(looksRandom(plaintext), false, 'the byte statistics flag plain text');
  const source = join(dir, FILE_NAME);
  await writeFile(source, plaintext);

  const [result] = await sendFiles({
    server: proxy.address,
    files: [source],
    remoteDir: REMOTE_DIR,
    identity: clientIdentity,
    verifyServer: (key) =>
      assert.ok(key.equals(serverIdentity.publicKey), 'the server key is the one we started'),
    chunkBytes: 64 * 1024,
  });
  assert.equal(result!.size, PLAINTEXT_BYTES);
  assert.ok((await readFile(join(root, REMOTE_DIR, FILE_NAME))).equals(plaintext), 'the file arrived intact');
  await proxy.sessions[0]!.closed;
  assert.equal(proxy.sessions.length, 1);

  const upstream = proxy.bytes('clientToServer');
  const downstream = proxy.bytes('serverToClient');
  assert.ok(upstream.length > PLAINTEXT_BYTES, `the whole file crossed the proxy (${upstream.length} bytes)`);

  for (const [direction, wire] of [
    ['client->server', upstream],
    ['server->client', downstream],
  ] as const) {
    for (let offset = 0; offset + WINDOW_BYTES <= plaintext.length; offset += WINDOW_STRIDE) {
      const window = plaintext.subarray(offset, offset + WINDOW_BYTES);
      assert.equal(
        wire.includes(window),
        false,
        `${direction} shows plaintext bytes ${offset}..${offset + WINDOW_BYTES}`,
      );
    }
    for (const name of [FILE_NAME, REMOTE_DIR, 'ferry-secret-']) {
      assert.equal(wire.includes(Buffer.from(name)), false, `${direction} shows ${JSON.stringify(name)}`);
    }
    // SECURITY.md: a passive observer learns neither static key (XX sends both encrypted, §3.1).
    for (const [who, key] of [
      ['server', serverIdentity.publicKey],
      ['client', clientIdentity.publicKey],
    ] as const) {
      assert.equal(wire.includes(key), false, `${direction} shows the ${who}'s static public key`);
    }
  }

  // Everything after the 10-byte plaintext version offer is handshake keys and AEAD ciphertext.
  const afterPreamble = upstream.subarray(VERSION_OFFER_BYTES);
  assert.ok(afterPreamble.length > 64 * 1024);
  const stats = byteStatistics(afterPreamble);
  assert.ok(looksRandom(afterPreamble), `client->server bytes do not look random: ${JSON.stringify(stats)}`);
});
