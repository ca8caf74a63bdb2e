// Delta uploads (PROTOCOL.md §5.15) over real TCP on loopback through the fault proxy, real files: the server
// holds an old file, the client replaces it with an edited one and sends only what changed. Each case checks
// the result byte-exact and the client->server bytes the proxy counted against the file size.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sendFiles, type SendFilesOptions } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import type { FaultPlan, PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';

const CHUNK_BYTES = 256 * 1024;
const OLD_BYTES = 3 * 1024 * 1024 + 12_345;
const NAME = 'image.bin';
/** Handshake, offer, PUT_END and per-chunk PUT_CHUNK records client->server: generously. */
const SESSION_BYTES = 8 * 1024;

interface Rig extends ProxiedServer {
  source: string;
  /** Sends the source over the server's old file; the bytes counted each way during this send. */
  send(overrides?: Partial<SendFilesOptions>): Promise<{ up: number; down: number }>;
}

async function rig(
  t: TestContext,
  old: Buffer,
  next: Buffer,
  permissions = PERMISSION_UPLOAD | PERMISSION_DOWNLOAD,
  plan?: FaultPlan | PlanFor,
): Promise<Rig> {
  const r = await startProxiedServer(t, 'ferry-delta-', {
    authorize: () => ({ permissions }),
    retries: 3,
    plan,
  });
  await writeFile(join(r.root, NAME), old);
  const source = join(r.dir, 'src', NAME);
  await mkdir(join(r.dir, 'src'));
  await writeFile(source, next);
  return {
    ...r,
    source,
    send: (overrides = {}) =>
      r.measure(() =>
        sendFiles({
          ...r.connect,
          files: [source],
          chunkBytes: CHUNK_BYTES,
          overwrite: true,
          ...overrides,
        }),
      ),
  };
}

const old = randomBytes(OLD_BYTES);
const edited = (edit: (copy: Buffer) => Buffer): Buffer => edit(Buffer.from(old));

const cases: Array<{ name: string; next: Buffer; literal: number }> = [
  {
    name: 'modified in place at 3 places',
    next: edited((b) => {
      for (const at of [100, 1_500_000, 3_000_000]) randomBytes(200).copy(b, at);
      return b;
    }),
    literal: 3 * 64 * 1024,
  },
  {
    name: '1 KiB inserted near the start',
    next: Buffer.concat([old.subarray(0, 3000), randomBytes(1024), old.subarray(3000)]),
    literal: 64 * 1024 + 1024,
  },
  {
    name: '40 KiB deleted in the middle',
    next: Buffer.concat([old.subarray(0, 1_000_000), old.subarray(1_040_960)]),
    literal: 2 * 64 * 1024,
  },
  { name: 'truncated', next: old.subarray(0, 2 * 1024 * 1024 + 777), literal: 64 * 1024 },
  {
    name: 'grown by 300 KiB',
    next: Buffer.concat([old, randomBytes(300 * 1024)]),
    literal: 300 * 1024 + 64 * 1024,
  },
  { name: 'identical', next: old, literal: 0 },
];

for (const c of cases) {
  test(`delta upload, ${c.name}: the file is replaced byte-exact, sending far less than its size`, async (t) => {
    const r = await rig(t, old, c.next);
    const { up, down } = await r.send();
    assert.ok((await readFile(join(r.root, NAME))).equals(c.next), 'the new file, byte-exact');
    t.diagnostic(`${c.name}: ${c.next.length} bytes, ${up} bytes client->server, ${down} server->client`);
    // Literals, plus 59 bytes per PUT_COPY/PUT_CHUNK record and the session: far below the file.
    assert.ok(up <= c.literal + SESSION_BYTES + 200 * 59, `${up} bytes sent for ${c.next.length}`);
    assert.ok(up < c.next.length / 4 || c.next.length < 1, `${up} bytes sent`);
  });
}

test('an upload-only client gets no signature: the file goes whole and is replaced', async (t) => {
  const next = cases[0]!.next;
  const r = await rig(t, old, next, PERMISSION_UPLOAD);
  const { up, down } = await r.send();
  assert.ok((await readFile(join(r.root, NAME))).equals(next));
  t.diagnostic(`upload-only: ${up} bytes client->server, ${down} server->client`);
  assert.ok(up > next.length, 'the whole file travelled');
  // The same upload by a client that may download receives the signature: 49 blocks of 20 bytes more.
  const mayDownload = await rig(t, old, next);
  const withSignature = await mayDownload.send();
  const signatureBytes = Math.ceil(OLD_BYTES / 65_536) * 20;
  assert.ok(down + signatureBytes <= withSignature.down, `${down} vs ${withSignature.down} server->client`);
});

test('a client that does not ask for delta sends the file whole', async (t) => {
  const next = cases[0]!.next;
  const r = await rig(t, old, next);
  const { up } = await r.send({ delta: false });
  assert.ok((await readFile(join(r.root, NAME))).equals(next));
  assert.ok(up > next.length, 'the whole file travelled');
});

test('a delta cut in the middle resumes: verified chunks are held, the rest is delta d again', async (t) => {
  // Literal data everywhere (a new file of the same size), so the cut lands mid-transfer; the old file
  // stays the base of the second attempt.
  const next = Buffer.concat([old.subarray(0, 1_000_000), randomBytes(OLD_BYTES - 1_000_000)]);
  const r = await rig(t, old, next, PERMISSION_UPLOAD | PERMISSION_DOWNLOAD, (i) =>
    i === 0 ? { cut: { afterBytes: 1_200_000 } } : undefined,
  );
  const { up } = await r.send();
  assert.ok((await readFile(join(r.root, NAME))).equals(next), 'byte-exact after the resume');
  assert.equal(r.proxy.connections.length, 2, 'cut once, resumed once');
  const literal = OLD_BYTES - 1_000_000;
  t.diagnostic(`cut and resumed: ${up} bytes client->server for ${literal} literal bytes`);
  // The resume sends what was lost in flight again, not the whole literal part twice.
  assert.ok(up < literal + 1_200_000, `${up} bytes`);
});
