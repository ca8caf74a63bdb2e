// The four pairing messages (PROTOCOL.md §12.4) for fixed inputs, recorded from the code at 4af5f4b, when the
// pairing exchange still built and parsed them in crypto/. The exchange now goes through protocol/'s codecs;
// these vectors prove that what crosses the wire did not change by a byte, and another implementation with the
// same inputs and random sources must produce the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parsePairingCode } from '../../src/crypto/index.js';
import { decodePairMessage, encodeMessage, type PairMessageType } from '../../src/protocol/index.js';
import { PairingClient, PairingServer, type PairingStep } from '../../src/machines/index.js';

interface PairingVector {
  name: string;
  sid: string;
  clientStaticKey: string;
  serverStaticKey: string;
  code: string;
  clientRandomSeed: string;
  serverRandomSeed: string;
  messages: Record<PairMessageType, string>;
}

const file = JSON.parse(
  readFileSync(new URL('ferry-pairing-messages.json', import.meta.url), 'utf8'),
) as { vectors: PairingVector[] };

/** The random source of the vector file: SHA-256 of `seed/0`, `seed/1`, ... (one per 32 bytes), cut to size. */
function seededRandom(seed: string): (bytes: number) => Uint8Array {
  let counter = 0;
  return (bytes) => {
    const out = Buffer.alloc(bytes);
    for (let at = 0; at < bytes; at += 32) {
      createHash('sha256').update(`${seed}/${counter++}`).digest().copy(out, at);
    }
    return out;
  };
}

function sent(step: PairingStep): Buffer {
  assert.ok(step.send !== undefined);
  return encodeMessage(step.send);
}

test('ferry-pairing-messages.json: the pairing exchange sends byte for byte the recorded messages (PROTOCOL.md §12.4)', () => {
  assert.ok(file.vectors.length > 0);
  for (const v of file.vectors) {
    const binding = {
      sid: Buffer.from(v.sid, 'hex'),
      clientStaticKey: Buffer.from(v.clientStaticKey, 'hex'),
      serverStaticKey: Buffer.from(v.serverStaticKey, 'hex'),
    };
    const code = parsePairingCode(v.code);
    const client = new PairingClient({ ...binding, code: v.code, random: seededRandom(v.clientRandomSeed) });
    const server = new PairingServer({ ...binding, secret: code.secret, random: seededRandom(v.serverRandomSeed) });
    const hello = encodeMessage(client.start());
    const reply = sent(server.receive(hello));
    const confirm = sent(client.receive(reply));
    const serverDone = server.receive(confirm);
    const done = sent(serverDone);
    const clientDone = client.receive(done);
    assert.deepEqual(
      { PAIR_HELLO: hello, PAIR_REPLY: reply, PAIR_CONFIRM: confirm, PAIR_DONE: done },
      Object.fromEntries(Object.entries(v.messages).map(([type, hex]) => [type, Buffer.from(hex, 'hex')])),
      v.name,
    );
    assert.ok(serverDone.done && clientDone.done);
    assert.deepEqual(serverDone.result.isk, clientDone.result.isk);
    code.dispose();
  }
});

test('ferry-pairing-messages.json: each message decodes with its codec and encodes back to its bytes', () => {
  for (const v of file.vectors) {
    for (const [type, hex] of Object.entries(v.messages) as [PairMessageType, string][]) {
      const decoded = decodePairMessage(Buffer.from(hex, 'hex'), type);
      assert.equal(decoded.type, type);
      assert.equal(encodeMessage(decoded).toString('hex'), hex, `${v.name} ${type}`);
    }
  }
});
