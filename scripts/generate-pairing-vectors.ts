// Writes test/vectors/ferry-pairing-messages.json from the real code:
//
//   node --import tsx scripts/generate-pairing-vectors.ts
//
// Fixed inputs (the Noise handshake hash, both static keys, a pairing code drawn from a seeded random source,
// and a seeded random source for each side) and what pairing makes of them: the four messages of
// PROTOCOL.md §12.4. test/vectors/ferry-pairing-vectors.test.ts runs the exchange on the same inputs and
// requires the same bytes, so a change on the wire of pairing shows up as a reviewed diff of the file.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { generatePairingCode, pairingMacKey, parsePairingCode } from '../src/crypto/index.js';
import { encodeMessage } from '../src/protocol/index.js';
import { PairingClient } from '../src/machines/pairing-client.js';
import { type PairingStep } from '../src/machines/pairing-exchange.js';
import { PairingServer } from '../src/machines/pairing-server.js';

const OUT = new URL('../test/vectors/ferry-pairing-messages.json', import.meta.url);

/** SHA-256 of `seed/0`, `seed/1`, ... (one per 32 bytes drawn, the counter running on), cut to size. */
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

const hex32 = (label: string): string => createHash('sha256').update(label).digest('hex');

function sent(step: PairingStep): Buffer {
  if (step.send === undefined) throw new Error('the exchange sent nothing');
  return encodeMessage(step.send);
}

function vector(name: string): Record<string, unknown> {
  const sid = hex32(`${name}/sid`);
  const clientStaticKey = hex32(`${name}/client-static-key`);
  const serverStaticKey = hex32(`${name}/server-static-key`);
  const code = generatePairingCode({ random: seededRandom(`${name}/code`) }).format();
  const clientRandomSeed = `${name}/client-random`;
  const serverRandomSeed = `${name}/server-random`;
  const binding = {
    sid: Buffer.from(sid, 'hex'),
    clientStaticKey: Buffer.from(clientStaticKey, 'hex'),
    serverStaticKey: Buffer.from(serverStaticKey, 'hex'),
  };
  const parsed = parsePairingCode(code);
  const client = new PairingClient({ ...binding, code, random: seededRandom(clientRandomSeed) });
  const server = new PairingServer({
    ...binding,
    secret: parsed.secret,
    random: seededRandom(serverRandomSeed),
  });
  const hello = encodeMessage(client.start());
  const reply = sent(server.receive(hello));
  const confirm = sent(client.receive(reply));
  const done = sent(server.receive(confirm));
  const clientDone = client.receive(done);
  if (!clientDone.done) throw new Error('the client did not finish');
  const isk = clientDone.result.isk;
  return {
    name,
    sid,
    clientStaticKey,
    serverStaticKey,
    code,
    clientRandomSeed,
    serverRandomSeed,
    isk: isk.toString('hex'),
    macKey: pairingMacKey(binding.sid, isk).toString('hex'),
    messages: {
      PAIR_HELLO: hello.toString('hex'),
      PAIR_REPLY: reply.toString('hex'),
      PAIR_CONFIRM: confirm.toString('hex'),
      PAIR_DONE: done.toString('hex'),
    },
  };
}

const file = {
  description:
    "The four pairing messages of PROTOCOL.md \u00a712.4 (type byte and body, hex) for fixed inputs: the Noise handshake hash (sid), both static keys, the pairing code, and each side's random source. A random source with seed S returns, for a request of n bytes, the concatenated SHA-256 digests of the ASCII strings `S/0`, `S/1`, ... (one per 32 bytes drawn, the counter running on across requests) cut to n bytes. sid and the keys are SHA-256 of `NAME/sid`, `NAME/client-static-key`, `NAME/server-static-key`; the code is drawn from the seed `NAME/code`. `isk` is CPace's ISK both sides derive and `macKey` the key-confirmation key SHA-512('CPaceMac' || sid || isk) (\u00a712.3): PAIR_CONFIRM's tag is HMAC-SHA-512(macKey, lv_cat(Ya, inviteId)), PAIR_DONE's HMAC-SHA-512(macKey, lv_cat(Yb, empty)). Written by scripts/generate-pairing-vectors.ts (protocol version 2).",
  vectors: [vector('one'), vector('two')],
};

const path = fileURLToPath(OUT);
const text = await format(JSON.stringify(file), { ...(await resolveConfig(path)), filepath: path });
await writeFile(OUT, text);
