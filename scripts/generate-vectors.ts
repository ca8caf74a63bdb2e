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
  chunkCount,
  chunkLength,
  decodeMessage,
  encodeMessage,
  fileDigest,
  haveDigest,
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

function chunkHashesOf(content: Buffer, chunkBytes: number): Buffer[] {
  return Array.from({ length: chunkCount(content.length, chunkBytes) }, (_, i) =>
    sha256(content.subarray(i * chunkBytes, i * chunkBytes + chunkLength(i, content.length, chunkBytes))),
  );
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
  const cases: [string, number, number][] = [
    ['empty file', 0, 1024],
    ['one byte', 1, 1024],
    ['exactly one chunk', 1024, 1024],
    ['one byte more than a chunk', 1025, 1024],
    ['three chunks, the last short', 3000, 1024],
    ['3000 bytes in one 4096-byte chunk', 3000, 4096],
  ];
  return {
    description:
      'file digests (PROTOCOL.md §7.2); content is hex; chunkHashes are SHA-256 of each chunk; haveDigest is §5.4 over all of them',
    vectors: cases.map(([name, size, chunkBytes]) => {
      const content = contentOf(name, size);
      const hashes = chunkHashesOf(content, chunkBytes);
      return {
        name,
        size,
        chunkBytes,
        content: content.toString('hex'),
        chunkHashes: hashes.map((h) => h.toString('hex')),
        fileDigest: fileDigest(size, chunkBytes, hashes).toString('hex'),
        haveDigest: haveDigest(hashes).toString('hex'),
      };
    }),
  };
}

function uploadVectors(): unknown {
  const chunkBytes = 1024;
  const content = contentOf('three chunks, the last short', 3000);
  const hashes = chunkHashesOf(content, chunkBytes);
  const digest = fileDigest(content.length, chunkBytes, hashes);
  const ref = 1;
  // The client resumes: the server already holds chunk 0 (PROTOCOL.md §5.4), so chunks 1 and 2 follow.
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
    ...[1, 2].flatMap((index): ['client', Message][] => [
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
      'the messages of a resumed upload of a 3000-byte file in 1024-byte chunks (PROTOCOL.md §5); bytes is the whole message (type byte and body) as hex, before record encryption; message is its decoded fields, byte strings as {"hex": ...}',
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
