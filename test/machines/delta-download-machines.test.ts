// Delta downloads with bytes alone (PROTOCOL.md §5.17, §6.4, §6.11): the server's machine answering a
// SIGNATURE request, the client's machine reading the answer, the leaf sources a scan yields and the codec's
// rules for the new flags. Every message goes through the codec, as the wire delivers it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { FerryError } from '../../src/errors/index.js';
import {
  DeltaSignatureReceiver,
  DownloadSenderMachine,
  type DownloadEffect,
} from '../../src/machines/index.js';
import {
  ChunkHashes,
  DeltaLeafSources,
  DeltaMatcher,
  LEAF_BYTES,
  LEAF_DELTA_FROM_BYTES,
  MAX_ACCEPT_RANGES,
  MAX_DELTA_BLOCKS,
  boundedHeldRanges,
  decodeMessage,
  deltaBlockBytesFor,
  deltaSignatureOf,
  encodeMessage,
  fileDigest,
  leafHash,
  type GetRequestMessage,
  type Message,
} from '../../src/protocol/index.js';

const ZERO = Buffer.alloc(32);
const FACTS = { mtimeMs: 1_700_000_000_000, mode: 0o640 };

function wire<M extends Message>(message: M): M {
  return decodeMessage(encodeMessage(message)) as M;
}

function fileOf(size: number, seed = 1): Buffer {
  const file = Buffer.alloc(size);
  for (let i = 0; i < size; i++) file[i] = (i * 31 + seed * 7 + (i >> 10) + ((i * i) >> 13)) & 0xff;
  return file;
}

function signatureRequest(fields: Partial<GetRequestMessage> = {}): GetRequestMessage {
  return {
    type: 'GET_REQUEST',
    ref: 7,
    chunkBytes: LEAF_BYTES,
    verifyOnly: false,
    signature: true,
    heldSize: 0,
    haveDigest: ZERO,
    ranges: [],
    path: 'f',
    ...fields,
  };
}

function leafDigest(file: Buffer): Buffer {
  const leaves: Buffer[] = [];
  for (let at = 0; at < file.length; at += LEAF_BYTES)
    leaves.push(leafHash(file.subarray(at, at + LEAF_BYTES)));
  return fileDigest(file.length, LEAF_BYTES, leaves);
}

/** Runs the server's machine as its driver does; the `sign` effect is what signLeaves does, with bytes. */
function serveSignature(file: Buffer): {
  messages: Message[];
  machine: DownloadSenderMachine;
  kinds: string[];
} {
  const machine = new DownloadSenderMachine(wire(signatureRequest()), { size: file.length, ...FACTS });
  const messages: Message[] = [];
  const kinds: string[] = [];
  const queue: DownloadEffect[] = [...machine.start()];
  for (let effect = queue.shift(); effect; effect = queue.shift()) {
    kinds.push(effect.kind);
    if (effect.kind === 'send') messages.push(wire(effect.message));
    else if (effect.kind === 'sign') {
      // PROTOCOL.md §5.17.2: in the blocks §5.15.2's rule picks for the size; the leaf hashes on the same read.
      const signature = deltaSignatureOf(file, effect.blockBytes);
      for (let leaf = 0; leaf * LEAF_BYTES < file.length; leaf++)
        machine.hashes.set(leaf, leafHash(file.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES)));
      // Records of 200 blocks, so a file of 449 blocks takes three.
      for (let first = 0; first < signature.weak.length; first += 200) {
        const count = Math.min(200, signature.weak.length - first);
        messages.push(
          wire({
            type: 'DELTA_BLOCKS',
            ref: 7,
            oldSize: file.length,
            blockBytes: signature.blockBytes,
            firstBlock: first,
            weak: signature.weak.subarray(first, first + count),
            strong: signature.strong.subarray(first * 16, (first + count) * 16),
          }),
        );
      }
      queue.push(...machine.signed());
    } else if (effect.kind === 'check-unchanged') queue.push(...machine.unchanged());
    else if (effect.kind === 'fail') throw effect.error;
  }
  return { messages, machine, kinds };
}

test('a SIGNATURE request is answered GET_OFFER with SIGNATURE, the blocks’ records, then GET_END with the digest (§5.17.2)', () => {
  const file = fileOf(7 * LEAF_BYTES + 123);
  const { messages, machine, kinds } = serveSignature(file);
  assert.deepEqual(messages[0], {
    type: 'GET_OFFER',
    ref: 7,
    size: file.length,
    mtimeMs: FACTS.mtimeMs,
    mode: FACTS.mode,
    heldAccepted: false,
    signature: true,
  });
  assert.deepEqual(
    messages.slice(1, -1).map((m) => m.type),
    ['DELTA_BLOCKS', 'DELTA_BLOCKS', 'DELTA_BLOCKS'],
  );
  assert.deepEqual(messages.at(-1), { type: 'GET_END', ref: 7, fileDigest: leafDigest(file) });
  assert.ok(kinds.includes('hashed-whole'), 'the leaf hashes are kept for the claim that follows');
  assert.ok(!kinds.includes('stream'), 'no file data is sent');
  assert.equal(machine.state, 'ended');
});

test('a file that changes while it is signed fails SOURCE_CHANGED; a file past 2^18 leaves is sent whole', () => {
  const file = fileOf(2 * LEAF_BYTES);
  const machine = new DownloadSenderMachine(wire(signatureRequest()), { size: file.length, ...FACTS });
  assert.deepEqual(
    machine.start().map((e) => e.kind),
    ['send', 'sign'],
  );
  const [fail] = machine.sourceChanged(new FerryError('SOURCE_CHANGED'));
  assert.equal(fail?.kind, 'fail');
  assert.equal(machine.state, 'failed');
  const huge = new DownloadSenderMachine(wire(signatureRequest()), {
    size: MAX_DELTA_BLOCKS * LEAF_BYTES + 1,
    ...FACTS,
  });
  const effects = huge.start();
  assert.deepEqual(
    effects.map((e) => e.kind),
    ['send', 'stream'],
  );
  const offer = (effects[0] as { message: Message }).message;
  assert.ok(offer.type === 'GET_OFFER' && !offer.signature && !offer.heldAccepted);
});

test('DeltaSignatureReceiver rebuilds the signature and the digest from the server’s answer (§6.11)', () => {
  const file = fileOf(7 * LEAF_BYTES + 123);
  const { messages } = serveSignature(file);
  const receiver = new DeltaSignatureReceiver();
  let signed;
  for (const message of messages) signed = receiver.receive(message) ?? signed;
  assert.ok(signed);
  assert.equal(receiver.state, 'complete');
  const expected = deltaSignatureOf(file, deltaBlockBytesFor(file.length));
  assert.equal(signed.signature.blockBytes, 1024, 'a file under 1 MiB in 1 KiB blocks');
  assert.deepEqual([...signed.signature.weak], [...expected.weak]);
  assert.ok(signed.signature.strong.equals(expected.strong));
  assert.ok(signed.digest.equals(leafDigest(file)));
});

test('DeltaSignatureReceiver: an empty file has no record; an offer without SIGNATURE is a plain download', () => {
  const empty = new DeltaSignatureReceiver();
  empty.receive(wire({ type: 'GET_OFFER', ref: 7, size: 0, ...FACTS, heldAccepted: false, signature: true }));
  assert.equal(empty.state, 'ending');
  const signed = empty.receive(wire({ type: 'GET_END', ref: 7, fileDigest: ZERO }));
  assert.equal(signed?.signature.weak.length, 0);
  const plain = new DeltaSignatureReceiver();
  plain.receive(wire({ type: 'GET_OFFER', ref: 7, size: 99, ...FACTS, heldAccepted: false }));
  assert.equal(plain.state, 'plain');
});

test('DeltaSignatureReceiver refuses records of another size, GET_END before the last record, data, and accepted held sets', () => {
  const file = fileOf(7 * LEAF_BYTES + 123);
  const { messages } = serveSignature(file);
  const [offer, first, second] = messages;
  const code = (run: () => unknown): string => {
    try {
      run();
    } catch (err) {
      return (err as { code: string }).code;
    }
    return 'none';
  };
  const afterOffer = (): DeltaSignatureReceiver => {
    const r = new DeltaSignatureReceiver();
    r.receive(offer!);
    return r;
  };
  const otherSize = wire({
    ...(first as Extract<Message, { type: 'DELTA_BLOCKS' }>),
    oldSize: file.length + LEAF_BYTES,
  });
  assert.equal(
    code(() => afterOffer().receive(otherSize)),
    'MESSAGE_MALFORMED',
  );
  assert.equal(
    code(() => afterOffer().receive(second!)),
    'MESSAGE_MALFORMED',
    'not the next block',
  );
  // PROTOCOL.md §5.17.2: a download's blocks are those §5.15.2's rule picks for the offered size; leaves
  // (valid from 16 MiB on) and 2 KiB blocks are refused for this file of 1 KiB blocks.
  for (const blockBytes of [LEAF_BYTES, 2048]) {
    const record = first as Extract<Message, { type: 'DELTA_BLOCKS' }>;
    const otherBlocks = wire({
      ...record,
      blockBytes,
      weak: record.weak.subarray(0, 3),
      strong: record.strong.subarray(0, 3 * 16),
    });
    assert.equal(
      code(() => afterOffer().receive(otherBlocks)),
      'MESSAGE_MALFORMED',
      `blocks of ${blockBytes} bytes`,
    );
  }
  assert.equal(
    code(() => afterOffer().receive(messages.at(-1)!)),
    'MESSAGE_UNEXPECTED',
    'GET_END too early',
  );
  assert.equal(
    code(() => afterOffer().receive(wire({ type: 'GET_DATA', ref: 7, offset: 0, data: Buffer.alloc(1) }))),
    'MESSAGE_UNEXPECTED',
  );
  assert.equal(
    code(() => new DeltaSignatureReceiver().receive(first!)),
    'MESSAGE_UNEXPECTED',
    'records before the offer',
  );
  assert.equal(
    code(() =>
      new DeltaSignatureReceiver().receive(
        wire({ type: 'GET_OFFER', ref: 7, size: 9, ...FACTS, heldAccepted: true }),
      ),
    ),
    'MESSAGE_MALFORMED',
  );
});

test('the codec refuses a SIGNATURE request that holds chunks, is striped or verify-only, or is not of leaf chunks (§5.17.1)', () => {
  assert.deepEqual(wire(signatureRequest()).signature, true);
  for (const fields of [
    { chunkBytes: 2 * LEAF_BYTES },
    { verifyOnly: true },
    { stripe: { index: 0, count: 2, minBytes: 0 } },
    { heldSize: LEAF_BYTES, ranges: [{ first: 0, count: 1 }], haveDigest: Buffer.alloc(32, 1) },
  ]) {
    assert.throws(() => encodeMessage(signatureRequest(fields)), { code: 'MESSAGE_MALFORMED' });
  }
  // A signed offer accepting a held set is malformed on the wire (flags 0x05).
  const bytes = encodeMessage({ type: 'GET_OFFER', ref: 7, size: 1, ...FACTS, heldAccepted: true });
  bytes[bytes.length - 1] = 0x05;
  assert.throws(() => decodeMessage(bytes), { code: 'MESSAGE_MALFORMED' });
});

test('DeltaLeafSources: the server’s leaves found at shifted offsets of the old file, repeats filled, in place detected', () => {
  const server = Buffer.concat([
    fileOf(3 * LEAF_BYTES, 2),
    Buffer.alloc(2 * LEAF_BYTES),
    fileOf(LEAF_BYTES + 5, 3),
  ]);
  // The old local file: 1000 bytes in front, one zero leaf only, and the rest.
  const local = Buffer.concat([
    Buffer.alloc(1000, 9),
    server.subarray(0, 4 * LEAF_BYTES),
    server.subarray(5 * LEAF_BYTES),
  ]);
  const signature = deltaSignatureOf(server);
  const sources = new DeltaLeafSources(signature);
  sources.add(new DeltaMatcher(signature).scan(local, 0, 0, local.length, true).ops);
  sources.fillRepeats();
  assert.equal(sources.found, signature.weak.length, 'every leaf found');
  for (let block = 0; block < sources.count; block++) {
    const at = sources.offsetOf(block);
    const length = Math.min(LEAF_BYTES, server.length - block * LEAF_BYTES);
    assert.ok(
      local
        .subarray(at, at + length)
        .equals(server.subarray(block * LEAF_BYTES, block * LEAF_BYTES + length)),
      `leaf ${block} at ${at}`,
    );
  }
  assert.equal(sources.inPlace(local.length), false);
  const same = new DeltaLeafSources(signature);
  same.add(new DeltaMatcher(signature).scan(server, 0, 0, server.length, true).ops);
  assert.equal(same.inPlace(server.length), true);
});

test('DeltaLeafSources: a leaf not found takes a repeat only of the same signature, never one of the same weak checksum alone', () => {
  const x = Buffer.alloc(LEAF_BYTES, 0x40);
  for (let i = 0; i < x.length; i++) x[i] = (i * 13 + (i >> 7)) & 0x7f;
  // +1, −2, +1 on three bytes in a row: the sum and the weighted sum stay, so the weak checksum does.
  const y = Buffer.from(x);
  y[100] = y[100]! + 1;
  y[101] = y[101]! - 2; // 33 here: no byte leaves its range
  y[102] = y[102]! + 1;
  const server = Buffer.concat([y, fileOf(LEAF_BYTES, 5), x]);
  const signature = deltaSignatureOf(server);
  assert.equal(signature.weak[0], signature.weak[2], 'the same weak checksum');
  // The old file holds x alone (and a leaf of neither): x is found, y is not, nor taken for a repeat of x.
  const local = Buffer.concat([fileOf(LEAF_BYTES, 9), x]);
  const sources = new DeltaLeafSources(signature);
  sources.add(new DeltaMatcher(signature).scan(local, 0, 0, local.length, true).ops);
  sources.fillRepeats();
  assert.equal(sources.offsetOf(2), LEAF_BYTES);
  assert.equal(sources.offsetOf(0), -1, 'y is not x');
  // With y's twin in the server's file too, it is filled from the leaf found.
  const twice = Buffer.concat([x, fileOf(LEAF_BYTES, 5), x]);
  const both = new DeltaLeafSources(deltaSignatureOf(twice));
  both.add([{ newOffset: LEAF_BYTES, length: LEAF_BYTES, oldOffset: 2 * LEAF_BYTES }]);
  both.fillRepeats();
  assert.equal(both.offsetOf(0), LEAF_BYTES);
  assert.equal(both.found, 2);
});

test('boundedHeldRanges keeps at most 4096 ranges, the largest, in order', () => {
  const ranges = Array.from({ length: MAX_ACCEPT_RANGES + 10 }, (_, i) => ({
    first: i * 3,
    count: i < 10 ? 1 : 2,
  }));
  const kept = boundedHeldRanges(ranges);
  assert.equal(kept.length, MAX_ACCEPT_RANGES);
  assert.ok(kept.every((r) => r.count === 2));
  assert.deepEqual(
    kept,
    [...kept].sort((a, b) => a.first - b.first),
  );
  assert.deepEqual(boundedHeldRanges(ranges.slice(0, 5)), ranges.slice(0, 5));
});

test('a PATCH request gets its pieces when the claim holds or there is none, every chunk whole otherwise (§5.17.4)', () => {
  const size = 3 * LEAF_BYTES + 500;
  const patch = [
    { offset: 1024, length: 1024 },
    { offset: 2 * LEAF_BYTES, length: 64 },
  ];
  const patchRequest = (fields: Partial<GetRequestMessage>): GetRequestMessage =>
    wire(signatureRequest({ signature: undefined, patch, ...fields }));
  const streamOf = (effects: readonly DownloadEffect[]): Extract<DownloadEffect, { kind: 'stream' }> => {
    const stream = effects.find((e) => e.kind === 'stream');
    assert.ok(stream?.kind === 'stream');
    return stream;
  };
  const offerOf = (effects: readonly DownloadEffect[]): Message =>
    (effects.find((e) => e.kind === 'send') as { message: Message }).message;
  // No claim: the pieces apply.
  const bare = new DownloadSenderMachine(patchRequest({}), { size, ...FACTS });
  const started = bare.start();
  assert.deepEqual(streamOf(started).patch, patch);
  // Every chunk is read whole and only the pieces go: the rest is paid as hashing that sends no data.
  assert.equal(streamOf(started).unsentBytes, size - 1024 - 64);
  const bareOffer = offerOf(started);
  assert.ok(bareOffer.type === 'GET_OFFER' && bareOffer.patched === true && !bareOffer.heldAccepted);
  // A claim that holds: the pieces apply to the chunks not held.
  const file = fileOf(size);
  const leaf1 = leafHash(file.subarray(LEAF_BYTES, 2 * LEAF_BYTES));
  const claim = { heldSize: size, ranges: [{ first: 1, count: 1 }], haveDigest: claimDigest(size, 1, leaf1) };
  const holds = new DownloadSenderMachine(patchRequest(claim), { size, ...FACTS });
  assert.deepEqual(
    holds.start().map((e) => e.kind),
    ['hash'],
  );
  holds.hashes.set(1, leaf1);
  const accepted = holds.hashed();
  const acceptedOffer = offerOf(accepted);
  assert.ok(
    acceptedOffer.type === 'GET_OFFER' && acceptedOffer.patched === true && acceptedOffer.heldAccepted,
  );
  const chunks = streamOf(accepted).chunks;
  const sent: number[] = [];
  for (let next = chunks.next(); !next.done; next = chunks.next()) sent.push(next.value);
  assert.deepEqual(sent, [0, 2, 3]);
  assert.equal(streamOf(accepted).unsentBytes, size - LEAF_BYTES - 1024 - 64, 'the held chunk is not read');
  // A claim that differs (the file changed since its signature): every chunk whole, no pieces.
  const differs = new DownloadSenderMachine(patchRequest(claim), { size, ...FACTS });
  differs.start();
  differs.hashes.set(1, Buffer.alloc(32, 9));
  const refused = differs.hashed();
  assert.equal(streamOf(refused).patch, undefined);
  assert.equal(streamOf(refused).unsentBytes, undefined, 'whole chunks: everything read is sent');
  const refusedOffer = offerOf(refused);
  assert.ok(refusedOffer.type === 'GET_OFFER' && !refusedOffer.patched);
  // Pieces past the end of the file (it shrank): every chunk whole.
  const shrunk = new DownloadSenderMachine(patchRequest({}), { size: LEAF_BYTES, ...FACTS });
  assert.equal(streamOf(shrunk.start()).patch, undefined);
});

// Stop 43: the server gave PATCHED for a file of any size, reading and hashing every leaf not held for the
// pieces of it asked (one byte each, if the client liked); pieces are for files under 16 MiB only.
test('a PATCH request for a file of 16 MiB or more gets every chunk whole, claim held or not; under 16 MiB its pieces (§5.17.4)', () => {
  const patch = [{ offset: 1024, length: 1 }];
  const request = (fields: Partial<GetRequestMessage> = {}): GetRequestMessage =>
    wire(signatureRequest({ signature: undefined, patch, ...fields }));
  const answerOf = (effects: readonly DownloadEffect[]) => {
    const stream = effects.find((e) => e.kind === 'stream');
    const offer = effects.find((e) => e.kind === 'send');
    assert.ok(stream?.kind === 'stream' && offer?.kind === 'send' && offer.message.type === 'GET_OFFER');
    return { patched: offer.message.patched === true, patch: stream.patch, unsentBytes: stream.unsentBytes };
  };
  const under = LEAF_DELTA_FROM_BYTES - 1;
  assert.deepEqual(answerOf(new DownloadSenderMachine(request(), { size: under, ...FACTS }).start()), {
    patched: true,
    patch,
    unsentBytes: under - 1,
  });
  for (const size of [LEAF_DELTA_FROM_BYTES, 4 * LEAF_DELTA_FROM_BYTES + 3]) {
    assert.deepEqual(
      answerOf(new DownloadSenderMachine(request(), { size, ...FACTS }).start()),
      { patched: false, patch: undefined, unsentBytes: undefined },
      `${size} bytes, no claim: whole chunks, everything read is sent`,
    );
    // A claim that holds is accepted, and the chunks not held still go whole.
    const leaf = leafHash(Buffer.alloc(LEAF_BYTES, 3));
    const claim = {
      heldSize: size,
      ranges: [{ first: 1, count: 1 }],
      haveDigest: claimDigest(size, 1, leaf),
    };
    const holds = new DownloadSenderMachine(request(claim), { size, ...FACTS });
    holds.start();
    holds.hashes.set(1, leaf);
    const accepted = holds.hashed();
    assert.deepEqual(answerOf(accepted), { patched: false, patch: undefined, unsentBytes: undefined });
    const offer = accepted.find((e) => e.kind === 'send');
    assert.ok(offer?.kind === 'send' && offer.message.type === 'GET_OFFER' && offer.message.heldAccepted);
  }
});

/** The haveDigest of a claim of chunk `index` alone (PROTOCOL.md §5.4), as a client computes it. */
function claimDigest(size: number, index: number, hash: Buffer): Buffer {
  const held = new ChunkHashes(size, LEAF_BYTES);
  held.set(index, hash);
  return held.haveDigest();
}
