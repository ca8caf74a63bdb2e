// A client attacks a same-size delta upload while the server still signs the old file and places its leaves
// into the partial (PROTOCOL.md §5.15.2-3, src/machines/leaf-placing.ts): PUT_DATA and PUT_COPY sent at once
// after PUT_ACCEPT, before any DELTA_BLOCKS (a client MUST NOT send PUT_DATA before the last record; a
// hostile one does), over leaves the server is placing, copies in place followed by data over the same leaf,
// copies from blocks whose records have not arrived. Whatever the interleaving, the outcome is exactly one
// of: refused (ERROR or the session closed) with the old file unchanged, or PUT_DONE with the file under its
// name byte-for-byte the one whose digest the client claimed. Real server, raw session on loopback.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  chunkHashOf,
  fileDigest,
  type Message,
} from '../../src/protocol/index.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const CHUNK = 64 * 1024;
const CHUNKS = 32;
const SIZE = CHUNKS * CHUNK;

type Step =
  | { copy: { offset: number; oldOffset: number; length: number } }
  | { data: { offset: number; bytes: Buffer } }
  | { chunk: number };

async function rig(t: TestContext) {
  const identity = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-delta-placing-', {
    authorize: (key) =>
      key.equals(identity.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
  });
  const old = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) old[i] = (i * 31 + 7 + (i >> 16)) & 0xff;
  /**
   * Offers a delta upload of `path` (holding `old`) and sends `steps` at once after PUT_ACCEPT, or once the
   * signature is whole (`early` false).
   */
  const attack = async (path: string, claimed: Buffer, steps: Step[], early: boolean): Promise<string> => {
    await writeFile(join(dir, 'root', path), old);
    const session = await openAdmittedSession(t, server.address, identity);
    await session.send({
      type: 'PUT_OFFER',
      ref: 1,
      size: SIZE,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: CHUNK,
      mode: 0o644,
      overwrite: true,
      fresh: false,
      delta: true,
      path,
    });
    assert.equal((await receiveMessage(session, 'PUT_ACCEPT')).delta, true);
    if (!early) {
      for (let signed = 0; signed < CHUNKS;) {
        const record = await receiveMessage(session, 'DELTA_BLOCKS');
        signed = record.firstBlock + record.weak.length;
      }
    }
    const sending = (async () => {
      for (const step of steps) {
        if ('copy' in step) await session.send({ type: 'PUT_COPY', ref: 1, ...step.copy });
        else if ('data' in step)
          await session.send({ type: 'PUT_DATA', ref: 1, offset: step.data.offset, data: step.data.bytes });
        else {
          const index = step.chunk;
          await session.send({
            type: 'PUT_CHUNK',
            ref: 1,
            index,
            chunkHash: chunkHashOf(claimed.subarray(index * CHUNK, (index + 1) * CHUNK)),
          });
        }
      }
      const hashes = Array.from({ length: CHUNKS }, (_, i) =>
        chunkHashOf(claimed.subarray(i * CHUNK, (i + 1) * CHUNK)),
      );
      await session.send({ type: 'PUT_END', ref: 1, fileDigest: fileDigest(SIZE, CHUNK, hashes) });
    })().catch((err: unknown) => {
      // The server may end the session mid-attack; anything else is this test's own mistake.
      if (!/closed|CONNECTION/i.test(String((err as { code?: string }).code ?? err))) throw err;
    });
    const answer = await finalAnswer(session);
    await sending;
    return answer;
  };
  return { dir, old, attack };
}

/** The server's last word: PUT_DONE, an ERROR's code, or the session's end (DELTA_BLOCKS, PROGRESS skipped). */
async function finalAnswer(session: SecureChannel): Promise<string> {
  try {
    for (;;) {
      const message: Message = await session.receive();
      if (message.type === 'DELTA_BLOCKS' || message.type === 'PROGRESS' || message.type === 'KEEPALIVE')
        continue;
      return message.type === 'ERROR' ? `ERROR ${message.code}` : message.type;
    }
  } catch (err) {
    return `closed ${(err as { code?: string }).code ?? ''}`;
  }
}

/** Every chunk copied in place but `changed`, which `body(changed)` sends instead. */
function stepsWith(changed: number, body: (at: number) => Step[]): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < CHUNKS; i++) {
    const at = i * CHUNK;
    if (i === changed) steps.push(...body(at));
    else steps.push({ copy: { offset: at, oldOffset: at, length: CHUNK } });
    steps.push({ chunk: i });
  }
  return steps;
}

test('data and copies sent while the server signs and places the old leaves: refused with the old file intact, or exactly the claimed file', async (t) => {
  const { dir, old, attack } = await rig(t);
  const edited = Buffer.from(old);
  edited.fill(0xee, 3 * CHUNK + 100, 3 * CHUNK + 200);
  const variants: Array<{ name: string; claimed: Buffer; steps: Step[] }> = [
    {
      name: 'honest edit sent before the signature (data early)',
      claimed: edited,
      steps: stepsWith(3, (at) => [
        { copy: { offset: at, oldOffset: at, length: 100 } },
        { data: { offset: at + 100, bytes: edited.subarray(at + 100, at + 200) } },
        { copy: { offset: at + 200, oldOffset: at + 200, length: CHUNK - 200 } },
      ]),
    },
    {
      name: 'copy in place of the whole chunk, then data over its leaf, claiming the edited file',
      claimed: edited,
      steps: stepsWith(3, (at) => [
        { copy: { offset: at, oldOffset: at, length: CHUNK } },
        { data: { offset: at + 100, bytes: edited.subarray(at + 100, at + 200) } },
      ]),
    },
    {
      name: 'data of the whole chunk first, claiming the old bytes there (the placed leaf must not vouch)',
      claimed: old,
      // Two records: one PUT_DATA holds less than a whole 64 KiB chunk.
      steps: stepsWith(3, (at) => [
        { data: { offset: at, bytes: edited.subarray(at, at + CHUNK / 2) } },
        { data: { offset: at + CHUNK / 2, bytes: edited.subarray(at + CHUNK / 2, at + CHUNK) } },
      ]),
    },
    {
      name: 'a copy from another offset over a leaf being placed (its block not yet in any record)',
      claimed: (() => {
        const b = Buffer.from(old);
        old.copy(b, 3 * CHUNK, 30 * CHUNK, 31 * CHUNK);
        return b;
      })(),
      steps: stepsWith(3, (at) => [{ copy: { offset: at, oldOffset: 30 * CHUNK, length: CHUNK } }]),
    },
    {
      name: 'a copy from another offset, claiming the old bytes in place',
      claimed: old,
      steps: stepsWith(3, (at) => [{ copy: { offset: at, oldOffset: 30 * CHUNK, length: CHUNK } }]),
    },
    {
      name: 'the last chunk copied in place and past the old file by one byte',
      claimed: old,
      steps: stepsWith(CHUNKS - 1, (at) => [{ copy: { offset: at, oldOffset: at + 1, length: CHUNK } }]),
    },
  ];
  for (const [i, variant] of variants.entries()) {
    // Twice at once after PUT_ACCEPT (where it lands against the signing varies), once after the signature.
    for (const [round, early] of [true, true, false].entries()) {
      const path = `v${i}-${round}.bin`;
      const answer = await attack(path, variant.claimed, variant.steps, early);
      const now = await readFile(join(dir, 'root', path));
      if (answer === 'PUT_DONE') {
        assert.ok(now.equals(variant.claimed), `${variant.name}: placed bytes other than the claimed file`);
        // A claim that is not the file the client's copies and data make is never placed.
        const made =
          variant.name.startsWith('data of the whole chunk') ||
          variant.name.startsWith('a copy from another offset, claiming') ||
          variant.name.includes('then data over');
        assert.ok(!made, `${variant.name}: accepted`);
      } else {
        assert.match(answer, /^(ERROR|closed)/, `${variant.name}: ${answer}`);
        assert.ok(now.equals(old), `${variant.name}: the old file changed after a refusal`);
      }
      t.diagnostic(`${variant.name} #${round}: ${answer}`);
    }
  }
});
