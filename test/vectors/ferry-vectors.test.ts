// ferry's published vectors (test/vectors/ferry-*.json, written by scripts/generate-vectors.ts) checked
// against the code in both directions: what the files say decodes to what the code decodes, and what the
// code encodes is byte for byte what the files hold. Another implementation can run the same files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { formatFerryId, parseFerryId, shortFerryId } from '../../src/crypto/index.js';
import {
  chunkCount,
  chunkLength,
  decodeMessage,
  encodeMessage,
  fileDigest,
  haveDigest,
  type Message,
} from '../../src/protocol/index.js';
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

test('ferry-file-digests.json: chunk hashes, file digest and have-digest of each content (PROTOCOL.md §7.2)', () => {
  const vectors = load<FileDigestVector>('ferry-file-digests.json');
  for (const v of vectors) {
    const content = Buffer.from(v.content, 'hex');
    assert.equal(content.length, v.size, v.name);
    const hashes = Array.from({ length: chunkCount(v.size, v.chunkBytes) }, (_, i) =>
      sha256(content.subarray(i * v.chunkBytes, i * v.chunkBytes + chunkLength(i, v.size, v.chunkBytes))),
    );
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
      'PUT_DATA',
      'PUT_CHUNK',
      'PUT_END',
      'PROGRESS',
      'PUT_DONE',
    ],
  );
});
