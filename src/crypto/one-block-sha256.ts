/**
 * The most bytes `oneBlockSha256` hashes: a message, its 0x80 end byte and its 8-byte bit length fit one
 * 64-byte block (FIPS 180-4 §5.1.1).
 */
export const ONE_BLOCK_SHA256_MAX_BYTES = 55;

/** FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** FIPS 180-4 §5.3.3: the initial hash value. */
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** The message schedule and the hash value, reused: the function is synchronous, so no two calls share them. */
const W = new Int32Array(64);
const H = new Int32Array(8);

/**
 * Writes the first `outBytes` (at most 32) bytes of SHA-256(`message`) into `out` at `outOffset`, for a
 * message of at most ONE_BLOCK_SHA256_MAX_BYTES bytes. For the many short messages a chunk log checks (a
 * 36-byte record each, 16,384 per GiB): node's one-shot hash is a call into C++ and a Buffer per message,
 * ~1-2 µs against ~0.5 here, and its garbage (issue 16). Not for secrets: nothing here is constant-time
 * about the message's length, and nothing is zeroed.
 */
export function oneBlockSha256(message: Uint8Array, out: Uint8Array, outOffset = 0, outBytes = 32): void {
  const length = message.length;
  if (length > ONE_BLOCK_SHA256_MAX_BYTES) throw new RangeError(`${length} bytes are more than one block`);
  if (outBytes < 0 || outBytes > 32 || outOffset < 0 || outOffset + outBytes > out.length)
    throw new RangeError(`no room for ${outBytes} bytes at ${outOffset} of ${out.length}`);
  // FIPS 180-4 §5.1.1, §5.2.1: the message, a 1 bit, zeros, its length in bits as a 64-bit big-endian
  // number, read as 16 big-endian words.
  for (let i = 0; i < 16; i++) {
    let word = 0;
    for (let j = 0; j < 4; j++) {
      const at = i * 4 + j;
      word = (word << 8) | (at < length ? message[at]! : at === length ? 0x80 : 0);
    }
    W[i] = word;
  }
  W[15] = length * 8;
  // §6.2.2 step 1: the rest of the schedule.
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!;
    const y = W[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  // §6.2.2 steps 2-4: 64 rounds over the working variables.
  let a = IV[0]!;
  let b = IV[1]!;
  let c = IV[2]!;
  let d = IV[3]!;
  let e = IV[4]!;
  let f = IV[5]!;
  let g = IV[6]!;
  let h = IV[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  // §6.2.2 step 4 and §6.2.3: the hash value, big-endian, of which the bytes asked for.
  H[0] = a + IV[0]!;
  H[1] = b + IV[1]!;
  H[2] = c + IV[2]!;
  H[3] = d + IV[3]!;
  H[4] = e + IV[4]!;
  H[5] = f + IV[5]!;
  H[6] = g + IV[6]!;
  H[7] = h + IV[7]!;
  for (let i = 0; i < outBytes; i++) out[outOffset + i] = H[i >> 2]! >>> (24 - 8 * (i & 3));
}
