// Fuzz target (c): the preamble decoders (PROTOCOL.md §2): the server's version answer and the client's offer.
import { Buffer } from 'node:buffer';
import { FerryError } from '../../../src/errors/index.js';
import {
  PREAMBLE_BYTES,
  VERSION_OFFER_BYTES,
  decodePreamble,
  decodeVersionOffer,
  encodePreamble,
  encodeVersionOffer,
  isPreamble,
} from '../../../src/protocol/index.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import { mutate, randomBytes } from '../mutate-bytes.js';
import { FuzzFailure, type FuzzTarget } from '../run-fuzz.js';

const MAGIC = Buffer.from('FERRY\0', 'latin1');

/**
 * Target (c): `decodePreamble` accepts exactly the 8-byte strings starting `FERRY\0` and returns their
 * version (which re-encodes to the same bytes); everything else is MESSAGE_MALFORMED. `isPreamble` agrees
 * with the magic check on any length. Half the inputs go to `decodeVersionOffer` instead, which accepts
 * exactly the 10-byte strings starting `FERRY\0` whose lowest version is at most the highest.
 */
export function preambleTarget(): FuzzTarget {
  const counts: Record<string, number> = { accepted: 0, refused: 0 };
  return {
    name: 'preamble',
    one(random: SeededRandom): void {
      if (random.next() < 0.5) {
        offerInput(random, counts);
        return;
      }
      const roll = random.next();
      const bytes =
        roll < 0.3
          ? randomBytes(random, 24)
          : mutate(random, encodePreamble(random.next() < 0.5 ? 1 : random.int(0, 0xffff)), { maxSteps: 2 })
              .bytes;
      const magicOk = bytes.length >= MAGIC.length && bytes.subarray(0, MAGIC.length).equals(MAGIC);
      if (isPreamble(bytes) !== magicOk) throw new FuzzFailure(`isPreamble says ${String(!magicOk)}`, bytes);
      // Any Uint8Array, not only Buffer.
      const input = random.next() < 0.3 ? new Uint8Array(bytes) : bytes;
      let version: number;
      try {
        version = decodePreamble(input).version;
      } catch (err) {
        if (!(err instanceof FerryError) || err.code !== 'MESSAGE_MALFORMED') {
          throw new FuzzFailure(`decodePreamble threw ${String(err)}`, bytes);
        }
        if (magicOk && bytes.length === PREAMBLE_BYTES)
          throw new FuzzFailure('a well-formed preamble was refused', bytes);
        counts['refused']!++;
        return;
      }
      if (!magicOk || bytes.length !== PREAMBLE_BYTES)
        throw new FuzzFailure('a malformed preamble was accepted', bytes);
      if (!encodePreamble(version).equals(bytes))
        throw new FuzzFailure(`version ${version} re-encodes differently`, bytes);
      counts['accepted']!++;
    },
    stats: () => ({ ...counts }),
  };
}

function offerInput(random: SeededRandom, counts: Record<string, number>): void {
  const max = random.int(0, 0xffff);
  const seed = encodeVersionOffer({ min: random.int(0, max), max });
  const bytes = random.next() < 0.3 ? randomBytes(random, 24) : mutate(random, seed, { maxSteps: 2 }).bytes;
  const magicOk = bytes.length >= MAGIC.length && bytes.subarray(0, MAGIC.length).equals(MAGIC);
  const wellFormed =
    magicOk && bytes.length === VERSION_OFFER_BYTES && bytes.readUInt16BE(8) <= bytes.readUInt16BE(6);
  let offer: { min: number; max: number };
  try {
    offer = decodeVersionOffer(random.next() < 0.3 ? new Uint8Array(bytes) : bytes);
  } catch (err) {
    if (!(err instanceof FerryError) || err.code !== 'MESSAGE_MALFORMED')
      throw new FuzzFailure(`decodeVersionOffer threw ${String(err)}`, bytes);
    if (wellFormed) throw new FuzzFailure('a well-formed offer was refused', bytes);
    counts['offerRefused'] = (counts['offerRefused'] ?? 0) + 1;
    return;
  }
  if (!wellFormed) throw new FuzzFailure('a malformed offer was accepted', bytes);
  if (!encodeVersionOffer(offer).equals(bytes))
    throw new FuzzFailure('an offer re-encodes differently', bytes);
  counts['offerAccepted'] = (counts['offerAccepted'] ?? 0) + 1;
}
