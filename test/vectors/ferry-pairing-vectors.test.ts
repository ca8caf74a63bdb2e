// The four pairing messages (PROTOCOL.md §12.4) for fixed inputs, recorded from the code at 4af5f4b, when the
// pairing exchange still built and parsed them in crypto/. The exchange now goes through protocol/'s codecs;
// these vectors prove that what crosses the wire did not change by a byte, and another implementation with the
// same inputs and random sources must produce the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pairingMacKey, parsePairingCode } from '../../src/crypto/index.js';
import { cpaceLvCat } from '../../src/crypto/cpace.js';
import { decodePairMessage, encodeMessage, type PairMessageType } from '../../src/protocol/index.js';
import { PairingClient } from '../../src/machines/pairing-client.js';
import { type PairingStep } from '../../src/machines/pairing-exchange.js';
import { PairingServer } from '../../src/machines/pairing-server.js';

interface PairingVector {
  name: string;
  sid: string;
  clientStaticKey: string;
  serverStaticKey: string;
  code: string;
  clientRandomSeed: string;
  serverRandomSeed: string;
  isk: string;
  macKey: string;
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
    assert.equal(clientDone.result.isk.toString('hex'), v.isk, `${v.name} isk`);
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

test('ferry-pairing-messages.json: the tags are the draft key confirmation over the recorded messages (PROTOCOL.md §12.3)', () => {
  for (const v of file.vectors) {
    const sid = Buffer.from(v.sid, 'hex');
    const macKey = pairingMacKey(sid, Buffer.from(v.isk, 'hex'));
    assert.equal(macKey.toString('hex'), v.macKey, `${v.name} macKey`);
    const hello = decodePairMessage(Buffer.from(v.messages.PAIR_HELLO, 'hex'), 'PAIR_HELLO');
    const reply = decodePairMessage(Buffer.from(v.messages.PAIR_REPLY, 'hex'), 'PAIR_REPLY');
    const confirm = decodePairMessage(Buffer.from(v.messages.PAIR_CONFIRM, 'hex'), 'PAIR_CONFIRM');
    const done = decodePairMessage(Buffer.from(v.messages.PAIR_DONE, 'hex'), 'PAIR_DONE');
    // Computed here from the definition, not by the exchange: Ta over (Ya, ADa = inviteId), Tb over (Yb, empty).
    const mac = (y: Buffer, ad: Buffer): Buffer => createHmac('sha512', macKey).update(cpaceLvCat(y, ad)).digest();
    assert.deepEqual(confirm.tag, mac(hello.ya, Buffer.from(hello.inviteId, 'ascii')), `${v.name} Ta`);
    assert.deepEqual(done.tag, mac(reply.yb, Buffer.alloc(0)), `${v.name} Tb`);
  }
});
