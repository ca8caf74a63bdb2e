import { createHmac } from 'node:crypto';

/** Length in bytes of a SHA-256 digest (Noise HASHLEN). */
export const HASH_BYTES = 32;

/**
 * Noise HKDF(chaining_key, input_key_material, num_outputs) with HMAC-SHA256 (spec §4.3): returns 2 or 3
 * outputs of 32 bytes. The caller owns the outputs and zeroes them once used; the intermediate
 * `temp_key` is zeroed here.
 */
export function noiseHkdf(
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  numOutputs: 2 | 3,
): Buffer[] {
  const tempKey = createHmac('sha256', chainingKey).update(inputKeyMaterial).digest();
  const outputs: Buffer[] = [];
  let previous: Buffer | null = null;
  for (let i = 1; i <= numOutputs; i += 1) {
    const mac = createHmac('sha256', tempKey);
    // output_i = HMAC(temp_key, output_{i-1} || byte(i)); output_0 is empty.
    if (previous !== null) mac.update(previous);
    previous = mac.update(Uint8Array.of(i)).digest();
    outputs.push(previous);
  }
  tempKey.fill(0);
  return outputs;
}
