// Writes the Noise HFS vector file (test/vectors/noise-hfs-25519-mlkem768-aesgcm-sha256.json) once:
//
//   node --import tsx scripts/generate-noise-hfs-vectors.ts
//
// Published Noise vectors have no ML-KEM suite, so ferry publishes its own for the pattern it speaks
// (PROTOCOL.md §3.1): cacophony's format, plus the two KEM inputs (test/vectors/README.md). One vector uses
// cacophony's XX keys, prologue and payloads; one is a ferry version 2 session as on the wire. test/crypto/noise-vectors.test.ts runs the file in both directions; the file is
// pinned by its SHA-256 there, so regenerating it is a deliberate, reviewed change.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { format, resolveConfig } from 'prettier';
import { HandshakeState, KemKeyPair, keyPairFromPrivateBytes } from '../src/crypto/index.js';
import {
  MODE_NORMAL,
  encodeClientHello,
  encodeEmptyHello,
  encodeMessage,
  encodePreamble,
  encodeVersionOffer,
  versionPrologue,
} from '../src/protocol/index.js';

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

interface Inputs {
  prologue: string;
  initStatic: string;
  initEphemeral: string;
  respStatic: string;
  respEphemeral: string;
  kemSeed: Buffer;
  kemRandomness: Buffer;
  payloads: string[];
}

/** Runs one handshake and its transport messages, both sides, and returns the vector in cacophony's format. */
function vectorOf(inputs: Inputs): Record<string, unknown> {
  const initiator = new HandshakeState({
    protocolName,
    initiator: true,
    prologue: hex(inputs.prologue),
    s: keyPairFromPrivateBytes(hex(inputs.initStatic)),
    e: keyPairFromPrivateBytes(hex(inputs.initEphemeral)),
    e1: new KemKeyPair(inputs.kemSeed),
  });
  const responder = new HandshakeState({
    protocolName,
    initiator: false,
    prologue: hex(inputs.prologue),
    s: keyPairFromPrivateBytes(hex(inputs.respStatic)),
    e: keyPairFromPrivateBytes(hex(inputs.respEphemeral)),
    kemEncapsulationRandomness: inputs.kemRandomness,
  });
  const messages: { payload: string; ciphertext: string }[] = [];
  let transport:
    { i: ReturnType<HandshakeState['split']>; r: ReturnType<HandshakeState['split']> } | undefined;
  let handshakeHash = '';
  inputs.payloads.forEach((payload, index) => {
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
  return {
    protocol_name: protocolName,
    init_prologue: inputs.prologue,
    init_static: inputs.initStatic,
    init_ephemeral: inputs.initEphemeral,
    init_kem_ephemeral_seed: inputs.kemSeed.toString('hex'),
    resp_prologue: inputs.prologue,
    resp_static: inputs.respStatic,
    resp_ephemeral: inputs.respEphemeral,
    resp_kem_encapsulation_randomness: inputs.kemRandomness.toString('hex'),
    handshake_hash: handshakeHash,
    messages,
  };
}

const key = (label: string): string => labelled(label, 32).toString('hex');
const vectors_ = [
  // 1. Cacophony's XX inputs with the KEM added: comparable with the plain XX vector of the same keys.
  vectorOf({
    prologue: xx.init_prologue,
    initStatic: xx.init_static,
    initEphemeral: xx.init_ephemeral,
    respStatic: xx.resp_static,
    respEphemeral: xx.resp_ephemeral,
    kemSeed: labelled('ferry noise hfs vector kem keygen seed', 64),
    kemRandomness: labelled('ferry noise hfs vector kem encapsulation randomness', 32),
    payloads: xx.messages.map((m) => m.payload),
  }),
  // 2. A ferry version 2 session as on the wire (PROTOCOL.md §2.5, §3.1): the prologue is the version offer
  // and answer, messages 1 and 2 carry empty entry lists, message 3 the mode entry (normal), then one record
  // each way (a CANCEL and an ACK, §5).
  vectorOf({
    prologue: versionPrologue(encodeVersionOffer(), encodePreamble()).toString('hex'),
    initStatic: key('ferry v2 vector client static'),
    initEphemeral: key('ferry v2 vector client ephemeral'),
    respStatic: key('ferry v2 vector server static'),
    respEphemeral: key('ferry v2 vector server ephemeral'),
    kemSeed: labelled('ferry v2 vector kem keygen seed', 64),
    kemRandomness: labelled('ferry v2 vector kem encapsulation randomness', 32),
    payloads: [
      encodeEmptyHello(),
      encodeEmptyHello(),
      encodeClientHello(MODE_NORMAL),
      encodeMessage({ type: 'CANCEL', ref: 1 }),
      encodeMessage({ type: 'ACK', ref: 1 }),
    ].map((b) => b.toString('hex')),
  }),
];
const path = OUT.pathname;
const text = await format(JSON.stringify({ vectors: vectors_ }), {
  ...(await resolveConfig(path)),
  filepath: path,
});
await writeFile(OUT, text);
console.log(`wrote ${path}`);
