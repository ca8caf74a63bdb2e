import { createHash } from 'node:crypto';

/**
 * PROTOCOL.md §9.1: the same client sending to the same place resumes the same transfer, and no client
 * can name (or collide with) another client's partial.
 */
export function transferIdOf(clientPublicKey: Buffer, rootedPath: string): string {
  return createHash('sha256')
    .update('ferry-transfer-v1')
    .update(clientPublicKey)
    .update(Buffer.from([0]))
    .update(rootedPath, 'utf8')
    .digest('hex')
    .slice(0, 32);
}
