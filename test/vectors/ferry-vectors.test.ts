// ferry's published vectors (test/vectors/ferry-*.json, written by scripts/generate-vectors.ts) checked
// against the code in both directions: what the files say decodes to what the code decodes, and what the
// code encodes is byte for byte what the files hold. Another implementation can run the same files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { formatFerryId, parseFerryId, shortFerryId } from '../../src/crypto/index.js';
import {
  LEAF_BYTES,
  chunkCount,
  chunkHashOf,
  chunkLength,
  decodeMessage,
  encodeMessage,
  fileDigest,
  haveDigest,
  type Message,
} from '../../src/protocol/index.js';
import { bytePattern } from '../helpers/byte-pattern.js';
import { fromVectorJson, toVectorJson, type FileDigestVector } from './vector-json.js';

interface VectorFile<T> {
  description: string;
  vectors: T[];
}

function load<T>(name: string): T[] {
  const file = JSON.parse(readFileSync(new URL(name, import.meta.url), 'utf8')) as VectorFile<T>;
  assert.ok(file.vectors.length > 0, `${name} has vectors`);
  return file.vectors;
}

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest();

test('ferry-ids.json: formatFerryId gives each id and parseFerryId gives each key back (PROTOCOL.md §3.4)', () => {
  for (const v of load<{ publicKey: string; id: string; shortId: string }>('ferry-ids.json')) {
    const key = Buffer.from(v.publicKey, 'hex');
    assert.equal(formatFerryId(key), v.id);
    assert.equal(shortFerryId(key), v.shortId);
    assert.deepEqual(parseFerryId(v.id), key);
  }
});

/** Leaf hashes of a file cut into LEAF_BYTES leaves; an empty file is one empty leaf (PROTOCOL.md §7.2). */
function leavesOf(content: Buffer): Buffer[] {
  const leaves = [leafOf(content.subarray(0, LEAF_BYTES))];
  for (let at = LEAF_BYTES; at < content.length; at += LEAF_BYTES) {
    leaves.push(leafOf(content.subarray(at, at + LEAF_BYTES)));
  }
  return leaves;
}
const leafOf = (bytes: Buffer): Buffer => sha256(Buffer.concat([Buffer.from([0]), bytes]));

/** RFC 6962 §2.1 MTH as the RFC writes it: split at the largest power of two below n, recursively. */
function referenceMth(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  const left = referenceMth(leaves.slice(0, k));
  const right = referenceMth(leaves.slice(k));
  return sha256(Buffer.concat([Buffer.from([1]), left, right]));
}

function u64(n: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(n));
  return bytes;
}

test('ferry-file-digests.json: tree root, chunk hashes, file digest and have-digest of each file (PROTOCOL.md §7.2)', () => {
  const vectors = load<FileDigestVector>('ferry-file-digests.json');
  // One file, one digest: every vector of the same size names the same digest whatever its chunk size.
  const bySize = new Map<number, Set<string>>();
  for (const v of vectors) bySize.set(v.size, (bySize.get(v.size) ?? new Set()).add(v.fileDigest));
  for (const [size, digests] of bySize) assert.equal(digests.size, 1, `size ${size}`);
  assert.ok([...bySize.keys()].some((size) => vectors.filter((v) => v.size === size).length >= 3));
  for (const v of vectors) {
    const content = bytePattern(v.size);
    const hashes = Array.from({ length: chunkCount(v.size, v.chunkBytes) }, (_, i) =>
      chunkHashOf(content.subarray(i * v.chunkBytes, i * v.chunkBytes + chunkLength(i, v.size, v.chunkBytes))),
    );
    // The tree root straight from the leaves, by RFC 6962's recursive definition, not through chunk hashes.
    const root = referenceMth(leavesOf(content));
    assert.equal(root.toString('hex'), v.treeRoot, v.name);
    const expected = sha256(
      Buffer.concat([Buffer.from('ferry-digest-v2'), u64(v.size), Buffer.from(v.treeRoot, 'hex')]),
    );
    assert.equal(expected.toString('hex'), v.fileDigest, `${v.name}: digest from the tree root`);
    assert.deepEqual(
      hashes.map((h) => h.toString('hex')),
      v.chunkHashes,
      v.name,
    );
    assert.equal(fileDigest(v.size, v.chunkBytes, hashes).toString('hex'), v.fileDigest, v.name);
    assert.equal(haveDigest(hashes).toString('hex'), v.haveDigest, v.name);
  }
});

test('ferry-upload-messages.json: every message decodes to its fields and its fields encode to its bytes (PROTOCOL.md §5)', () => {
  const vectors = load<{ from: string; bytes: string; message: unknown }>('ferry-upload-messages.json');
  for (const v of vectors) {
    const bytes = Buffer.from(v.bytes, 'hex');
    const decoded = decodeMessage(bytes);
    assert.deepEqual(toVectorJson(decoded), v.message, `decode ${v.bytes.slice(0, 16)}...`);
    assert.equal(encodeMessage(fromVectorJson(v.message) as Message).toString('hex'), v.bytes, decoded.type);
  }
  assert.deepEqual(
    vectors.map((v) => (v.message as { type: string }).type),
    [
      'WELCOME',
      'PUT_OFFER',
      'PUT_ACCEPT',
      'PUT_DATA',
      'PUT_CHUNK',
      'PUT_END',
      'PROGRESS',
      'PUT_DONE',
    ],
  );
});
