/** The content of ferry's digest vectors (test/vectors/README.md): the byte at offset i is i mod 251. */
export function bytePattern(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  return bytes;
}
