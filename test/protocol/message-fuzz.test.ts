import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { FerryError } from '../../src/errors/index.js';
import {
  MAX_MESSAGE_BYTES,
  MESSAGE_TYPE_CODES,
  decodeMessage,
  encodeMessage,
} from '../../src/protocol/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { SAMPLE_MESSAGES } from './message-samples.js';

const TYPE_CODES = Object.values(MESSAGE_TYPE_CODES);

// Decoding either fails with a FerryError or yields a message that encodes back to the very same bytes: the
// decoder accepts one canonical form only, and nothing it accepts is refused by the encoder.
function decodeOrFerryError(bytes: Buffer, label: string): void {
  let message;
  try {
    message = decodeMessage(bytes);
  } catch (err) {
    assert.ok(err instanceof FerryError, `${label}: threw ${String(err)}`);
    return;
  }
  assert.deepEqual(encodeMessage(message).toString('hex'), bytes.toString('hex'), `${label}: not canonical`);
}

test('`decodeMessage` fed seeded random bytes only ever throws FerryError', () => {
  const random = new SeededRandom(0xfe77);
  for (let round = 0; round < 5000; round++) {
    const bytes = random.bytes(random.int(0, 120));
    // Most inputs get a known type byte, so the fuzzing reaches past the type switch.
    if (bytes.length > 0 && random.next() < 0.8) bytes[0] = random.pick(TYPE_CODES);
    decodeOrFerryError(bytes, `round ${round}`);
  }
});

test('`decodeMessage` fed every truncation of every sample message only ever throws FerryError', () => {
  for (const message of SAMPLE_MESSAGES) {
    const bytes = encodeMessage(message);
    // Long messages: every cut in the first 200 bytes, then every 97th.
    for (let length = 0; length < bytes.length; length += length < 200 ? 1 : 97) {
      decodeOrFerryError(bytes.subarray(0, length), `${message.type} cut to ${length}`);
    }
  }
});

test('`decodeMessage` fed single-byte mutations of every sample message only ever throws FerryError', () => {
  const random = new SeededRandom(0xb17);
  for (const message of SAMPLE_MESSAGES) {
    const bytes = encodeMessage(message);
    for (let round = 0; round < 300; round++) {
      const mutated = Buffer.from(bytes);
      const at = random.int(0, Math.min(bytes.length, 300) - 1);
      mutated[at] =
        random.next() < 0.5 ? random.int(0, 255) : (mutated[at] as number) ^ (1 << random.int(0, 7));
      decodeOrFerryError(mutated, `${message.type} byte ${at}`);
    }
  }
});

test('`decodeMessage` refuses a sample message with a byte appended, with MESSAGE_MALFORMED', () => {
  for (const message of SAMPLE_MESSAGES) {
    // Data runs to the end of the message, so any length is a valid layout.
    if (message.type === 'PUT_DATA' || message.type === 'GET_DATA') continue;
    const bytes = encodeMessage(message);
    const longer = Buffer.concat([bytes, Buffer.from([0])]);
    // A sample that already fills a record (a packed LIST_ENTRIES) is refused for its size first.
    const code = longer.length > MAX_MESSAGE_BYTES ? 'RECORD_TOO_LARGE' : 'MESSAGE_MALFORMED';
    assert.throws(
      () => decodeMessage(longer),
      (err: unknown) => err instanceof FerryError && err.code === code,
      `${message.type}: expected ${code}`,
    );
  }
});

test('`decodeMessage` refuses every sample message cut by its last byte, with MESSAGE_MALFORMED', () => {
  for (const message of SAMPLE_MESSAGES) {
    const bytes = encodeMessage(message);
    // A 1-byte PUT_DATA or GET_DATA cut by one has no data left, which is malformed too.
    if ((message.type === 'PUT_DATA' || message.type === 'GET_DATA') && message.data.length > 1) continue;
    assert.throws(
      () => decodeMessage(bytes.subarray(0, bytes.length - 1)),
      (err: unknown) => err instanceof FerryError && err.code === 'MESSAGE_MALFORMED',
      message.type,
    );
  }
});

test('the samples cover every message type', () => {
  const covered = new Set(SAMPLE_MESSAGES.map((m) => m.type));
  assert.deepEqual([...covered].sort(), Object.keys(MESSAGE_TYPE_CODES).sort());
});
