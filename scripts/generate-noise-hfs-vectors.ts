// Writes the Noise HFS vector file (test/vectors/noise-hfs-25519-mlkem768-aesgcm-sha256.json) once:
//
//   node --import tsx scripts/generate-noise-hfs-vectors.ts
//
// Published Noise vectors have no ML-KEM suite, so ferry publishes its own for the pattern it speaks
// (PROTOCOL.md §3.1): cacophony's format and its XX keys, prologue and payloads, plus the two KEM inputs
// (test/vectors/README.md). test/crypto/noise-vectors.test.ts runs the file in both directions; the file is
// pinned by its SHA-256 there, so regenerating it is a deliberate, reviewed change.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { format, resolveConfig } from 'prettier';
import { HandshakeState, KemKeyPair, keyPairFromPrivateBytes } from '../src/crypto/index.js';

const OUT = new URL('../test/vectors/noise-hfs-25519-mlkem768-aesgcm-sha256.json', import.meta.url);
const CACOPHONY = new URL('../test/vectors/noise-cacophony-25519-aesgcm-sha256.json', import.meta.url);

interface CacophonyVector {
  protocol_name: string;
  init_prologue: string;
  init_static: string;
  init_ephemeral: string;
  resp_prologue: string;
  resp_static: string;
  resp_ephemeral: string;
  messages: { payload: string }[];
}

const hex = (text: string): Buffer => Buffer.from(text, 'hex');
/** Deterministic KEM inputs anyone can recompute: SHA-256 in counter mode over a label. */
function labelled(label: string, bytes: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < bytes; i++) blocks.push(createHash('sha256').update(`${label} ${i}`).digest());
  return Buffer.concat(blocks).subarray(0, bytes);
}

const { vectors } = JSON.parse(await readFile(CACOPHONY, 'utf8')) as { vectors: CacophonyVector[] };
const xx = vectors.find((v) => v.protocol_name === 'Noise_XX_25519_AESGCM_SHA256');
if (xx === undefined) throw new Error('no XX vector in the cacophony file');

const protocolName = 'Noise_XXhfs_25519+MLKEM768_AESGCM_SHA256';
const kemSeed = labelled('ferry noise hfs vector kem keygen seed', 64);
const kemRandomness = labelled('ferry noise hfs vector kem encapsulation randomness', 32);
const initiator = new HandshakeState({
  protocolName,
  initiator: true,
  prologue: hex(xx.init_prologue),
  s: keyPairFromPrivateBytes(hex(xx.init_static)),
  e: keyPairFromPrivateBytes(hex(xx.init_ephemeral)),
  e1: new KemKeyPair(kemSeed),
});
const responder = new HandshakeState({
  protocolName,
  initiator: false,
  prologue: hex(xx.resp_prologue),
  s: keyPairFromPrivateBytes(hex(xx.resp_static)),
  e: keyPairFromPrivateBytes(hex(xx.resp_ephemeral)),
  kemEncapsulationRandomness: kemRandomness,
});
const messages: { payload: string; ciphertext: string }[] = [];
let transport: { i: ReturnType<HandshakeState['split']>; r: ReturnType<HandshakeState['split']> } | undefined;
let handshakeHash = '';
xx.messages.forEach(({ payload }, index) => {
  const [sender, receiver] = index % 2 === 0 ? [initiator, responder] : [responder, initiator];
  let ciphertext: Buffer;
  if (transport === undefined) {
    ciphertext = sender.writeMessage(hex(payload));
    receiver.readMessage(ciphertext);
    if (initiator.isComplete && responder.isComplete) {
      handshakeHash = initiator.handshakeHash.toString('hex');
      transport = { i: initiator.split(), r: responder.split() };
    }
  } else {
    const send = index % 2 === 0 ? transport.i.send : transport.r.send;
    ciphertext = send.encryptWithAd(Buffer.alloc(0), hex(payload));
  }
  messages.push({ payload, ciphertext: ciphertext.toString('hex') });
});

const vector = {
  protocol_name: protocolName,
  init_prologue: xx.init_prologue,
  init_static: xx.init_static,
  init_ephemeral: xx.init_ephemeral,
  init_kem_ephemeral_seed: kemSeed.toString('hex'),
  resp_prologue: xx.resp_prologue,
  resp_static: xx.resp_static,
  resp_ephemeral: xx.resp_ephemeral,
  resp_kem_encapsulation_randomness: kemRandomness.toString('hex'),
  handshake_hash: handshakeHash,
  messages,
};
const path = OUT.pathname;
const text = await format(JSON.stringify({ vectors: [vector] }), {
  ...(await resolveConfig(path)),
  filepath: path,
});
await writeFile(OUT, text);
console.log(`wrote ${path}`);
