import { MerkleStack } from '../protocol/index.js';

/** The chunk hash (PROTOCOL.md §7.2) of a chunk of whole leaves, from their leaf hashes (each copied). */
export function rootOfLeaves(leaves: readonly Buffer[]): Buffer {
  const tree = new MerkleStack();
  for (const leaf of leaves) tree.push(leaf);
  return tree.root();
}
