import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  HandshakeState,
  KemKeyPair,
  keyPairFromPrivateBytes,
  parseProtocolName,
  type CipherState,
  type KeyPair,
} from '../../src/crypto/index.js';
import {
  MODE_NORMAL,
  NOISE_PROTOCOL_NAME,
  encodeClientHello,
  encodePreamble,
  encodeVersionOffer,
  versionPrologue,
} from '../../src/protocol/index.js';

// The vendored vectors (provenance and licence in test/vectors/README.md); NOISE_VECTORS=FILE checks another set.
const DEFAULT_VECTORS = fileURLToPath(
  new URL('../vectors/noise-cacophony-25519-aesgcm-sha256.json', import.meta.url),
);
const SHIPPED_VECTOR_COUNT = 59;
// ferry's own vectors for the hybrid pattern it speaks (PROTOCOL.md §3.1): cacophony's format plus the KEM inputs.
const HFS_VECTORS = fileURLToPath(
  new URL('../vectors/noise-hfs-25519-mlkem768-aesgcm-sha256.json', import.meta.url),
);

interface NoiseVector {
  protocol_name: string;
  init_prologue: string;
  init_static?: string;
  init_ephemeral?: string;
  init_remote_static?: string;
  init_psks?: string[];
  resp_prologue: string;
  resp_static?: string;
  resp_ephemeral?: string;
  resp_remote_static?: string;
  resp_psks?: string[];
  /** hfs only: the 64-byte ML-KEM KeyGen seed `d || z` of the initiator's `e1`. */
  init_kem_ephemeral_seed?: string;
  /** hfs only: the 32-byte ML-KEM Encaps randomness `m` of the responder's `ekem1`. */
  resp_kem_encapsulation_randomness?: string;
  handshake_hash?: string;
  messages: { payload: string; ciphertext: string }[];
}

interface Side {
  handshake: HandshakeState;
  transport?: { send: CipherState; receive: CipherState };
}

const hex = (text: string): Buffer => Buffer.from(text, 'hex');
const keyPair = (text: string | undefined): KeyPair | undefined =>
  text === undefined ? undefined : keyPairFromPrivateBytes(hex(text));

function makeSide(vector: NoiseVector, initiator: boolean): Side {
  const prefix = initiator ? 'init' : 'resp';
  const field = (name: string): string | undefined =>
    (vector as unknown as Record<string, string | undefined>)[`${prefix}_${name}`];
  const psks = initiator ? vector.init_psks : vector.resp_psks;
  const remoteStatic = field('remote_static');
  const handshake = new HandshakeState({
    protocolName: vector.protocol_name,
    initiator,
    prologue: hex(field('prologue') ?? ''),
    s: keyPair(field('static')),
    e: keyPair(field('ephemeral')),
    rs: remoteStatic === undefined ? undefined : hex(remoteStatic),
    psks: psks?.map(hex),
    e1:
      field('kem_ephemeral_seed') === undefined
        ? undefined
        : new KemKeyPair(hex(field('kem_ephemeral_seed')!)),
    kemEncapsulationRandomness:
      field('kem_encapsulation_randomness') === undefined
        ? undefined
        : hex(field('kem_encapsulation_randomness')!),
    // Vectors fix every ephemeral; asking for a fresh one would mean the pattern sends `e` twice.
    generateEphemeral: () => {
      throw new Error(`${vector.protocol_name}: unexpected ephemeral generation`);
    },
  });
  return { handshake };
}

/** Runs one vector through both sides; returns false when its protocol is not implemented. */
function runVector(vector: NoiseVector): boolean {
  let oneWay: boolean;
  try {
    oneWay = parseProtocolName(vector.protocol_name).pattern.oneWay;
  } catch {
    return false;
  }
  const initiator = makeSide(vector, true);
  const responder = makeSide(vector, false);
  vector.messages.forEach((message, index) => {
    const fromInitiator = oneWay || index % 2 === 0;
    const [sender, receiver] = fromInitiator ? [initiator, responder] : [responder, initiator];
    const payload = hex(message.payload);
    const expected = hex(message.ciphertext);
    const where = `${vector.protocol_name} message ${index}`;
    let written: Buffer;
    let read: Buffer;
    if (!sender.handshake.isComplete) {
      written = sender.handshake.writeMessage(payload);
      assert.equal(written.toString('hex'), message.ciphertext, `${where}: written bytes`);
      read = receiver.handshake.readMessage(expected);
      if (initiator.handshake.isComplete && responder.handshake.isComplete) {
        initiator.transport = initiator.handshake.split();
        responder.transport = responder.handshake.split();
        if (vector.handshake_hash !== undefined) {
          assert.equal(
            initiator.handshake.handshakeHash.toString('hex'),
            vector.handshake_hash,
            `${where}: initiator h`,
          );
          assert.equal(
            responder.handshake.handshakeHash.toString('hex'),
            vector.handshake_hash,
            `${where}: responder h`,
          );
        }
      }
    } else {
      assert.ok(sender.transport && receiver.transport, `${where}: transport keys`);
      written = sender.transport.send.encryptWithAd(Buffer.alloc(0), payload);
      assert.equal(written.toString('hex'), message.ciphertext, `${where}: written bytes`);
      read = receiver.transport.receive.decryptWithAd(Buffer.alloc(0), expected);
    }
    assert.equal(read.toString('hex'), message.payload, `${where}: payload read back`);
  });
  assert.ok(
    initiator.handshake.isComplete && responder.handshake.isComplete,
    `${vector.protocol_name}: handshake completed`,
  );
  return true;
}

/** Checks every vector of a file; throws on the first mismatch. */
function checkVectorFile(path: string): { ran: number; skipped: number } {
  const { vectors } = JSON.parse(readFileSync(path, 'utf8')) as { vectors: NoiseVector[] };
  let ran = 0;
  let skipped = 0;
  for (const vector of vectors) {
    if (runVector(vector)) ran += 1;
    else skipped += 1;
  }
  return { ran, skipped };
}

test('`HandshakeState` matches the cacophony Noise vectors byte for byte in both directions', () => {
  const path = process.env.NOISE_VECTORS ?? DEFAULT_VECTORS;
  const { ran, skipped } = checkVectorFile(path);
  console.log(`noise vectors: ran ${ran}, skipped ${skipped}`);
  assert.ok(ran > 0, 'no vector ran');
  if (process.env.NOISE_VECTORS === undefined) {
    assert.equal(ran, SHIPPED_VECTOR_COUNT);
    assert.equal(skipped, 0);
  }
});

test('`HandshakeState` reproduces the XXhfs (X25519 + ML-KEM-768) vectors byte for byte in both directions', () => {
  // Both sides write and read every message and agree on h: the initiator's e1 and the responder's ekem1 come
  // from the vector's KEM inputs, so any change to token order, KEM or key schedule changes these bytes.
  assert.deepEqual(checkVectorFile(HFS_VECTORS), { ran: 2, skipped: 0 });
  const [vector, session] = (JSON.parse(readFileSync(HFS_VECTORS, 'utf8')) as { vectors: NoiseVector[] })
    .vectors;
  assert.equal(vector?.protocol_name, 'Noise_XXhfs_25519+MLKEM768_AESGCM_SHA256');
  // The second is a ferry version 2 session as on the wire: its prologue is the version offer and answer
  // (PROTOCOL.md §2.5) and its protocol name the one the channel runs.
  assert.equal(session?.protocol_name, NOISE_PROTOCOL_NAME);
  assert.equal(
    session.init_prologue,
    versionPrologue(encodeVersionOffer(), encodePreamble()).toString('hex'),
  );
  assert.equal(session.messages[2]?.payload, encodeClientHello(MODE_NORMAL).toString('hex'));
  // Message 1 is e (32) and e1 (1184) in clear before its payload; message 2 carries the 1088-byte ciphertext
  // encrypted (+16), s (48) and its payload (+16).
  const [m1, m2] = vector.messages;
  assert.equal(hex(m1!.ciphertext).length, 32 + 1184 + hex(m1!.payload).length);
  assert.equal(hex(m2!.ciphertext).length, 32 + 1088 + 16 + 48 + hex(m2!.payload).length + 16);
});

test('the XXhfs vector check fails when one byte of the KEM ciphertext or the KEM seed changes', () => {
  const { vectors } = JSON.parse(readFileSync(HFS_VECTORS, 'utf8')) as { vectors: NoiseVector[] };
  const dir = mkdtempSync(join(tmpdir(), 'ferry-vectors-'));
  try {
    const flip = (text: string, at: number): string => {
      const bytes = hex(text);
      bytes[at] = (bytes[at] ?? 0) ^ 0x01;
      return bytes.toString('hex');
    };
    const edits: ((v: NoiseVector) => void)[] = [
      (v) => (v.messages[1]!.ciphertext = flip(v.messages[1]!.ciphertext, 40)),
      (v) => (v.init_kem_ephemeral_seed = flip(v.init_kem_ephemeral_seed!, 0)),
      (v) => (v.resp_kem_encapsulation_randomness = flip(v.resp_kem_encapsulation_randomness!, 0)),
    ];
    edits.forEach((edit, i) => {
      const copy = structuredClone(vectors);
      edit(copy[0]!);
      const path = join(dir, `tampered-hfs-${i}.json`);
      writeFileSync(path, JSON.stringify({ vectors: copy }));
      assert.throws(
        () => checkVectorFile(path),
        /XXhfs_25519\+MLKEM768_AESGCM_SHA256 message|failed authentication/,
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the vector check fails when one ciphertext byte is changed', () => {
  const { vectors } = JSON.parse(readFileSync(DEFAULT_VECTORS, 'utf8')) as { vectors: NoiseVector[] };
  const dir = mkdtempSync(join(tmpdir(), 'ferry-vectors-'));
  try {
    // Tamper with a handshake message and, separately, a transport message of a different vector.
    for (const messageIndex of [1, 4]) {
      const copy = structuredClone(vectors);
      const vector = copy.find((v) => v.protocol_name === 'Noise_XX_25519_AESGCM_SHA256');
      const message = vector?.messages[messageIndex];
      assert.ok(message);
      const bytes = hex(message.ciphertext);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
      message.ciphertext = bytes.toString('hex');
      const path = join(dir, `tampered-${messageIndex}.json`);
      writeFileSync(path, JSON.stringify({ vectors: copy }));
      assert.throws(() => checkVectorFile(path), /XX_25519_AESGCM_SHA256 message|failed authentication/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a vector with an unsupported protocol name is counted as skipped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-vectors-'));
  try {
    const path = join(dir, 'unsupported.json');
    const vector = {
      protocol_name: 'Noise_XX_448_ChaChaPoly_BLAKE2b',
      init_prologue: '',
      resp_prologue: '',
      messages: [],
    };
    writeFileSync(path, JSON.stringify({ vectors: [vector] }));
    assert.deepEqual(checkVectorFile(path), { ran: 0, skipped: 1 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
