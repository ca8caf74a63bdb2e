// Fuzz target (b): every message decoder, through `decodeMessage` (PROTOCOL.md §5), fed random bytes and
// mutations of valid samples of every message type.
import { Buffer } from 'node:buffer';
import { FerryError } from '../../../src/errors/index.js';
import {
  MAX_MESSAGE_BYTES,
  MESSAGE_TYPE_CODES,
  decodeMessage,
  encodeMessage,
} from '../../../src/protocol/index.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import { SAMPLE_MESSAGES } from '../../protocol/message-samples.js';
import { mutate, randomBytes } from '../mutate-bytes.js';
import { FuzzFailure, type FuzzTarget } from '../run-fuzz.js';

/** The codes a decoder may refuse a message with (PROTOCOL.md §5, §4.1). */
const DECODE_CODES = new Set(['MESSAGE_MALFORMED', 'RECORD_TOO_LARGE']);
const TYPE_CODES = Object.values(MESSAGE_TYPE_CODES);

/** Encoded samples; the huge ones (packed listings, full PUT_DATA) are kept but mutated less often. */
export const ENCODED_SAMPLES: readonly Buffer[] = SAMPLE_MESSAGES.map((m) => encodeMessage(m));
const SMALL_SAMPLES = ENCODED_SAMPLES.filter((b) => b.length <= 8192);

/**
 * Checks one plaintext: decoding throws a FerryError with a decode code, or yields a message that encodes
 * back to exactly these bytes (one canonical form; nothing the decoder accepts is refused by the encoder).
 */
export function checkDecode(bytes: Buffer): 'accepted' | 'refused' {
  let message;
  try {
    message = decodeMessage(bytes);
  } catch (err) {
    if (!(err instanceof FerryError)) throw new FuzzFailure(`decodeMessage threw ${String(err)}`, bytes);
    if (!DECODE_CODES.has(err.code)) throw new FuzzFailure(`decodeMessage refused with ${err.code}`, bytes);
    return 'refused';
  }
  let again: Buffer;
  try {
    again = encodeMessage(message);
  } catch (err) {
    throw new FuzzFailure(`decoded ${message.type} does not encode: ${String(err)}`, bytes);
  }
  if (!again.equals(bytes)) throw new FuzzFailure(`decoded ${message.type} re-encodes differently`, bytes);
  return 'accepted';
}

/** Target (b). */
export function messageDecoderTarget(): FuzzTarget {
  const counts: Record<string, number> = { random: 0, mutated: 0, spliced: 0, accepted: 0, refused: 0 };
  return {
    name: 'message-decoder',
    one(random: SeededRandom): void {
      const roll = random.next();
      let bytes: Buffer;
      if (roll < 0.25) {
        counts['random']!++;
        bytes = randomBytes(random, MAX_MESSAGE_BYTES + 2);
        // Most random inputs get a known type byte, so they reach a codec instead of the type check.
        if (bytes.length > 0 && random.next() < 0.85) bytes[0] = random.pick(TYPE_CODES);
      } else if (roll < 0.9) {
        counts['mutated']!++;
        const seed = random.next() < 0.95 ? random.pick(SMALL_SAMPLES) : random.pick(ENCODED_SAMPLES);
        bytes = mutate(random, seed, { others: SMALL_SAMPLES, maxLength: MAX_MESSAGE_BYTES + 2 }).bytes;
      } else {
        counts['spliced']!++;
        // A valid head with another message's tail, keeping the type byte of the head.
        const head = random.pick(SMALL_SAMPLES);
        const tail = random.pick(SMALL_SAMPLES);
        bytes = Buffer.concat([
          head.subarray(0, random.int(1, head.length)),
          tail.subarray(random.int(0, tail.length)),
        ]);
      }
      counts[checkDecode(bytes)]!++;
    },
    stats: () => ({ ...counts }),
  };
}
