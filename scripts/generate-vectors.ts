// Writes ferry's own test vectors (test/vectors/ferry-*.json) from the real code:
//
//   node --import tsx scripts/generate-vectors.ts
//
// IDs (PROTOCOL.md §3.4), file digests (§7.2) and the messages of a short upload (§5) as bytes and as
// decoded fields. test/vectors/ferry-vectors.test.ts checks the code against these files in both directions,
// so a change to the wire format shows up as a diff of these files, reviewed like any other.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { formatFerryId, shortFerryId } from '../src/crypto/index.js';
import {
  HASH_BYTES,
  LEAF_BYTES,
  MerkleStack,
  chunkCount,
  chunkHashOf,
  chunkLength,
  decodeMessage,
  encodeMessage,
  fileDigest,
  haveDigest,
  leafHash,
  type Message,
} from '../src/protocol/index.js';
import { toVectorJson } from '../test/vectors/vector-json.js';

const OUT = new URL('../test/vectors/', import.meta.url);

const sha256 = (bytes: Uint8Array | string): Buffer => createHash('sha256').update(bytes).digest();

/** Deterministic file contents: SHA-256 in counter mode over a label, so anyone can regenerate them. */
function contentOf(label: string, size: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * HASH_BYTES < size; i++) blocks.push(sha256(`${label} ${i}`));
  return Buffer.concat(blocks).subarray(0, size);
}

/** The digest vectors' contents (test/vectors/README.md): the byte at offset i is i mod 251. */
function patternOf(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  return bytes;
}

function chunkHashesOf(content: Buffer, chunkBytes: number): Buffer[] {
  return Array.from({ length: chunkCount(content.length, chunkBytes) }, (_, i) =>
    chunkHashOf(
      content.subarray(i * chunkBytes, i * chunkBytes + chunkLength(i, content.length, chunkBytes)),
    ),
  );
}

/** MTH over the file's leaves (PROTOCOL.md §7.2), straight from the leaves, not from chunk hashes. */
function treeRootOf(content: Buffer): Buffer {
  const tree = new MerkleStack();
  tree.push(leafHash(content.subarray(0, LEAF_BYTES)));
  for (let at = LEAF_BYTES; at < content.length; at += LEAF_BYTES) {
    tree.push(leafHash(content.subarray(at, at + LEAF_BYTES)));
  }
  return tree.root();
}

function idVectors(): unknown {
  const keys = [
    Buffer.alloc(32),
    Buffer.alloc(32, 0xff),
    ...[0, 1, 2].map((i) => sha256(`ferry vector key ${i}`)),
  ];
  return {
    description: 'ferry IDs (PROTOCOL.md §3.4): publicKey is the raw X25519 key; id and shortId as printed',
    vectors: keys.map((key) => ({
      publicKey: key.toString('hex'),
      id: formatFerryId(key),
      shortId: shortFerryId(key),
    })),
  };
}

function digestVectors(): unknown {
  const L = LEAF_BYTES;
  const cases: [string, number, number][] = [
    ['empty file (one empty leaf)', 0, L],
    ['one byte', 1, L],
    ['one byte short of a leaf', L - 1, L],
    ['exactly one leaf', L, L],
    ['one byte more than a leaf', L + 1, L],
    ['three leaves, one chunk of four leaves', 3 * L, 4 * L],
    ['three leaves, three one-leaf chunks', 3 * L, L],
    ['two chunks of two leaves', 4 * L, 2 * L],
    ['five leaves and 100 bytes, chunks of one leaf', 5 * L + 100, L],
    ['five leaves and 100 bytes, chunks of two leaves', 5 * L + 100, 2 * L],
    ['five leaves and 100 bytes, one chunk of eight leaves', 5 * L + 100, 8 * L],
  ];
  return {
    description: `file digests (PROTOCOL.md §7.2) with LEAF_BYTES ${LEAF_BYTES}; the content of size bytes is the byte pattern i mod 251 (test/vectors/README.md); treeRoot is the RFC 6962 Merkle Tree Hash over the file's leaves; chunkHashes are the MTH of each chunk's leaves; haveDigest is §5.4 over all of them`,
    vectors: cases.map(([name, size, chunkBytes]) => {
      const content = patternOf(size);
      const hashes = chunkHashesOf(content, chunkBytes);
      return {
        name,
        size,
        chunkBytes,
        treeRoot: treeRootOf(content).toString('hex'),
        chunkHashes: hashes.map((h) => h.toString('hex')),
        fileDigest: fileDigest(size, chunkBytes, hashes).toString('hex'),
        haveDigest: haveDigest(hashes).toString('hex'),
      };
    }),
  };
}

function uploadVectors(): unknown {
  const chunkBytes = LEAF_BYTES;
  const content = contentOf('two chunks, the last short', LEAF_BYTES + 100);
  const hashes = chunkHashesOf(content, chunkBytes);
  const digest = fileDigest(content.length, chunkBytes, hashes);
  const ref = 1;
  // The client resumes: the server already holds chunk 0 (PROTOCOL.md §5.4), so chunk 1 follows.
  const steps: ['client' | 'server', Message][] = [
    ['server', { type: 'WELCOME', permissions: 3, maxFileBytes: 0 }],
    [
      'client',
      {
        type: 'PUT_OFFER',
        ref,
        size: content.length,
        mtimeMs: 1_700_000_000_000,
        chunkBytes,
        mode: 0o644,
        overwrite: false,
        fresh: false,
        path: 'docs/report.txt',
      },
    ],
    [
      'server',
      {
        type: 'PUT_ACCEPT',
        ref,
        restarted: false,
        existing: false,
        haveDigest: haveDigest([hashes[0]!]),
        joinToken: Buffer.from('the join token of this transfer', 'ascii').subarray(0, 16),
        ranges: [{ first: 0, count: 1 }],
      },
    ],
    ...[1].flatMap((index): ['client', Message][] => [
      [
        'client',
        {
          type: 'PUT_DATA',
          ref,
          offset: index * chunkBytes,
          data: content.subarray(
            index * chunkBytes,
            index * chunkBytes + chunkLength(index, content.length, chunkBytes),
          ),
        },
      ],
      ['client', { type: 'PUT_CHUNK', ref, index, chunkHash: hashes[index]! }],
    ]),
    ['client', { type: 'PUT_END', ref, fileDigest: digest }],
    ['server', { type: 'PROGRESS', ref, verifiedBytes: content.length }],
    ['server', { type: 'PUT_DONE', ref, identical: false, fileDigest: digest }],
  ];
  return {
    description:
      'the messages of a resumed upload of a 65636-byte file in 65536-byte chunks (PROTOCOL.md §5); bytes is the whole message (type byte and body) as hex, before record encryption; message is its decoded fields, byte strings as {"hex": ...}',
    vectors: steps.map(([from, message]) => {
      const bytes = encodeMessage(message);
      return { from, bytes: bytes.toString('hex'), message: toVectorJson(decodeMessage(bytes)) };
    }),
  };
}

const files: [string, unknown][] = [
  ['ferry-ids.json', idVectors()],
  ['ferry-file-digests.json', digestVectors()],
  ['ferry-upload-messages.json', uploadVectors()],
];
// Written as prettier writes JSON, so `npm run format` and a regeneration agree byte for byte.
for (const [name, value] of files) {
  const path = fileURLToPath(new URL(name, OUT));
  const options = { ...(await resolveConfig(path)), filepath: path };
  await writeFile(path, await format(JSON.stringify(value), options));
}
console.log(`wrote ${files.map(([name]) => name).join(', ')}`);
