// A hostile server (PROTOCOL.md §5.12: "The client MUST validate every path it receives as if it came from an
// attacker"). The fake server below is built from the channel layer only: a real Noise handshake, a WELCOME,
// then LIST_ENTRIES with escaping names and GET data for anything requested. The client (library getFiles
// and the CLI `get -r`) must never write outside its destination: the directory around the destination is
// snapshotted before and after, and the client must fail with a path error or skip the link with a warning.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import type { SecureChannel } from '../../src/channel/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import {
  DEFAULT_CHUNK_BYTES,
  LIST_ENTRIES_HEADER_BYTES,
  MAX_BATCH_FILE_BYTES,
  MAX_LIST_BYTES,
  MAX_LIST_ENTRIES,
  MAX_MESSAGE_BYTES,
  chunkHashOf,
  encodeMessage,
  fileDigest,
  listEntryBytes,
  smallFileDigest,
  type GetBatchEntry,
  type ListEntry,
  type Message,
} from '../../src/protocol/index.js';
import { getFiles, syncTree, type GetEvent, type GetFilesOptions } from '../../src/client/index.js';
import { runFerry } from '../helpers/cli.js';
import { FakeFerryServer } from '../helpers/fake-ferry-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { contentsUnder } from '../helpers/tree-snapshot.js';

/** Sends `data` at `offset` as GET_DATA messages of at most 32 KiB: a 64 KiB chunk does not fit one record. */
async function sendGetData(channel: SecureChannel, ref: number, offset: number, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; at += 32 * 1024) {
    await channel.send({
      type: 'GET_DATA',
      ref,
      offset: offset + at,
      data: data.subarray(at, at + 32 * 1024),
    });
  }
}

/** What the fake server answers to a LIST_REQUEST: entries it encodes, or record plaintexts built by hand. */
interface Script {
  entries?: ListEntry[];
  /** Hand-built LIST_ENTRIES plaintexts for values the encoder refuses; sent before LIST_END. */
  rawListPlaintexts?: Buffer[];
  isFile?: boolean;
  /** Answers a GET_REQUEST by hand instead of with the planted file. */
  answerGet?: (channel: SecureChannel, request: Extract<Message, { type: 'GET_REQUEST' }>) => Promise<void>;
  /** One entry repeated as an endless listing, streamed until `upTo` or the client hangs up, before `entries`. */
  stream?: { entry: ListEntry; upTo: number };
  /** The mode GET_OFFER claims for every file. */
  fileMode?: number;
  /** Refuse every GET_REQUEST with this ERROR (a detail of the server's choosing). */
  getError?: { code: keyof typeof ERROR_CODES; detail: string };
  /** Size of every file served (its text repeated), so a file can span several chunks; default one line. */
  fileBytes?: number;
  /** Answers a GET_BATCH's path by hand (PROTOCOL.md §5.20), instead of with the planted file. */
  batchEntry?: (path: string) => GetBatchEntry;
  /** Entries the answer to a GET_BATCH carries beyond the paths asked for. */
  extraBatchEntries?: number;
}

/** A server that speaks the protocol correctly but lies about names. Records every GET path requested. */
class MaliciousServer extends FakeFerryServer {
  readonly requestedPaths: string[] = [];
  /** Entries of `script.stream` sent before the client hung up (or all of them). */
  streamedEntries = 0;
  #script: Script = {};

  static async start(): Promise<MaliciousServer> {
    const fake = new MaliciousServer();
    await fake.listen();
    return fake;
  }

  set script(script: Script) {
    this.#script = script;
  }

  protected override async answer(channel: SecureChannel, message: Message, socket: Socket): Promise<void> {
    if (message.type === 'LIST_REQUEST') {
      const { entries = [], rawListPlaintexts = [], isFile = false, stream } = this.#script;
      if (stream) await this.#stream(channel, message.ref, stream, socket);
      if (entries.length > 0) await channel.send({ type: 'LIST_ENTRIES', ref: message.ref, entries });
      for (const raw of rawListPlaintexts) {
        raw.writeUInt32BE(message.ref, 1);
        await channel.sendPlaintext(raw);
      }
      const totalEntries = this.streamedEntries + entries.length + rawListPlaintexts.length;
      await channel.send({
        type: 'LIST_END',
        ref: message.ref,
        totalEntries,
        isFile,
        mode: 0o777,
        mtimeMs: 0,
      });
    } else if (message.type === 'GET_BATCH') {
      // PROTOCOL.md §5.20: a batch names only paths the client listed; its answer names none. A script that
      // answers GET_REQUESTs by hand refuses every entry, so each file comes by the one-file path it tests.
      this.requestedPaths.push(...message.paths);
      const { answerGet, getError } = this.#script;
      const { batchEntry, extraBatchEntries = 0 } = this.#script;
      if (extraBatchEntries > 0) {
        // One record answering more paths than were asked for.
        const data = Buffer.from('extra');
        const entry: GetBatchEntry = {
          status: 'file',
          mtimeMs: 0,
          mode: 0o644,
          fileDigest: smallFileDigest(data, DEFAULT_CHUNK_BYTES),
          data,
        };
        const count = message.paths.length + extraBatchEntries;
        await channel.send({ type: 'GET_BATCH_DATA', ref: message.ref, entries: Array(count).fill(entry) });
        return;
      }
      for (const path of message.paths) {
        if (batchEntry) {
          await channel.send({ type: 'GET_BATCH_DATA', ref: message.ref, entries: [batchEntry(path)] });
          continue;
        }
        const data = this.#planted(path);
        const entry: GetBatchEntry =
          answerGet || getError || data.length > MAX_BATCH_FILE_BYTES
            ? { status: 'refused', code: ERROR_CODES.FILE_TOO_LARGE.wire }
            : {
                status: 'file',
                mtimeMs: 0,
                mode: this.#script.fileMode ?? 0o755,
                fileDigest: smallFileDigest(data, DEFAULT_CHUNK_BYTES),
                data,
              };
        await channel.send({ type: 'GET_BATCH_DATA', ref: message.ref, entries: [entry] });
      }
    } else if (message.type === 'GET_REQUEST') {
      this.requestedPaths.push(message.path);
      if (this.#script.answerGet) return this.#script.answerGet(channel, message);
      const { getError } = this.#script;
      if (getError) {
        const code = ERROR_CODES[getError.code].wire!;
        await channel.send({ type: 'ERROR', ref: message.ref, code, detail: getError.detail });
        return;
      }
      const data = this.#planted(message.path);
      const size = data.length;
      const { ref, chunkBytes } = message;
      await channel.send({
        type: 'GET_OFFER',
        ref,
        size: data.length,
        mtimeMs: 0,
        mode: this.#script.fileMode ?? 0o755,
        heldAccepted: false,
      });
      const hashes: Buffer[] = [];
      for (let offset = 0; offset < size; offset += chunkBytes) {
        const chunk = data.subarray(offset, offset + chunkBytes);
        hashes.push(chunkHashOf(chunk));
        await sendGetData(channel, ref, offset, chunk);
        await channel.send({ type: 'GET_CHUNK', ref, index: hashes.length - 1, chunkHash: hashes.at(-1)! });
      }
      await channel.send({ type: 'GET_END', ref, fileDigest: fileDigest(size, chunkBytes, hashes) });
    }
  }

  /** The planted content of `path`: one line naming it, repeated to `fileBytes` if the script says so. */
  #planted(path: string): Buffer {
    const line = Buffer.from(`planted by a hostile server as ${path}\n`);
    return Buffer.alloc(this.#script.fileBytes ?? line.length, line);
  }

  /**
   * Streams `stream.entry` as often as `upTo` says, packed as a real server packs entries, until the client
   * hangs up. One record's plaintext is encoded once and sent again and again: the client is what is timed.
   */
  async #stream(
    channel: SecureChannel,
    ref: number,
    stream: NonNullable<Script['stream']>,
    socket: Socket,
  ): Promise<void> {
    this.streamedEntries = 0;
    const perRecord = Math.floor(
      (MAX_MESSAGE_BYTES - LIST_ENTRIES_HEADER_BYTES) / listEntryBytes(stream.entry),
    );
    const full = encodeMessage({ type: 'LIST_ENTRIES', ref, entries: Array(perRecord).fill(stream.entry) });
    while (this.streamedEntries < stream.upTo && !socket.destroyed) {
      const count = Math.min(perRecord, stream.upTo - this.streamedEntries);
      const plaintext =
        count === perRecord
          ? full
          : encodeMessage({ type: 'LIST_ENTRIES', ref, entries: Array(count).fill(stream.entry) });
      await channel.sendPlaintext(plaintext);
      this.streamedEntries += count;
    }
  }
}

/** A hand-built LIST_ENTRIES plaintext with one entry (PROTOCOL.md §5.12); the ref is filled in when sent. */
function rawListEntries(kind: number, path: Buffer, linkTarget: Buffer): Buffer {
  const out = Buffer.alloc(1 + 4 + 2 + 1 + 2 + 8 + 8 + 2 + path.length + 2 + linkTarget.length);
  let at = out.writeUInt8(0x31, 0);
  at = out.writeUInt32BE(0, at);
  at = out.writeUInt16BE(1, at);
  at = out.writeUInt8(kind, at);
  at = out.writeUInt16BE(0o644, at);
  at += 16; // size 0, mtimeMs 0
  at = out.writeUInt16BE(path.length, at);
  at += path.copy(out, at);
  at = out.writeUInt16BE(linkTarget.length, at);
  linkTarget.copy(out, at);
  return out;
}

function file(path: string): ListEntry {
  return { kind: 'file', mode: 0o644, size: 10, mtimeMs: 0, path, linkTarget: '' };
}

function dir(path: string): ListEntry {
  return { kind: 'dir', mode: 0o755, size: 0, mtimeMs: 0, path, linkTarget: '' };
}

function link(path: string, linkTarget: string): ListEntry {
  return { kind: 'link', mode: 0o777, size: 0, mtimeMs: 0, path, linkTarget };
}

interface Rig {
  work: string;
  /** The destination: `work/outer/dest`, so `../../x` lands in `work` where the snapshot sees it. */
  dest: string;
  outside: string;
  fake: MaliciousServer;
  /** A file outside the destination, so an escape could name it absolutely. */
  victim: string;
}

async function startRig(t: TestContext): Promise<Rig> {
  const work = await makeTempDir('ferry-malicious-');
  const fake = await MaliciousServer.start();
  t.after(async () => {
    await fake.close();
    await removeTempDir(work);
  });
  const dest = join(work, 'outer', 'dest');
  const outside = join(work, 'outside');
  await mkdir(dest, { recursive: true });
  await mkdir(outside);
  const victim = join(outside, 'victim.txt');
  await writeFile(victim, 'original victim content\n');
  return { work, dest, outside, fake, victim };
}

/** A get (-r unless `options` say otherwise) of `remotePaths` from the fake server into `rig.dest`; its error, or undefined. */
async function get(
  rig: Rig,
  remotePaths: string[],
  events: GetEvent[] = [],
  options: Partial<GetFilesOptions> = {},
): Promise<unknown> {
  try {
    await getFiles({
      server: rig.fake.address,
      identity: generateKeyPair(),
      verifyServer: () => undefined,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
      remotePaths,
      localDir: rig.dest,
      recursive: true,
      chunkBytes: 64 * 1024,
      onEvent: (event) => events.push(event),
      ...options,
    });
    return undefined;
  } catch (err) {
    return err;
  }
}

/** Names a hostile listing may carry; each must be refused before anything is created. */
const ESCAPING_PATHS = [
  '../../x',
  '../x',
  '..',
  'a/../../x',
  'a/../../../outside/victim.txt',
  '/etc/ferry-malicious-test',
  'a\\..\\..\\x',
  '..\\x',
  'a/./b',
  'a//b',
  'nul\u0000byte',
  'escape\u001b[2Jcode',
  'newline\nname',
  'del\u007fname',
  'csi\u009b2Jname',
  'c1\u0085next-line',
];

test('getFiles -r refuses every escaping or invalid name a server lists with PATH_INVALID, and writes nothing anywhere', async (t) => {
  const rig = await startRig(t);
  // The absolute path a hostile server would most like to reach: our victim file.
  for (const path of [...ESCAPING_PATHS, rig.victim]) {
    const before = await contentsUnder(rig.work);
    rig.fake.script = { entries: [file('innocent.txt'), file(path)] };
    const err = await get(rig, ['tree']);
    assert.equal(
      (err as { code?: string } | undefined)?.code,
      'PATH_INVALID',
      `listing with ${JSON.stringify(path)}`,
    );
    assert.deepEqual(await contentsUnder(rig.work), before, `nothing changed for ${JSON.stringify(path)}`);
  }
  assert.deepEqual(rig.fake.requestedPaths, [], 'a bad listing stops the download before any request');
  await assert.rejects(lstat('/etc/ferry-malicious-test'), { code: 'ENOENT' });
});

test('getFiles -r skips, with a warning, links whose target is absolute or climbs out of the download', async (t) => {
  const rig = await startRig(t);
  const before = await contentsUnder(rig.work);
  rig.fake.script = {
    entries: [
      dir('d'),
      link('d/passwd', '../../../etc/passwd'),
      link('abs', '/etc/passwd'),
      link('victim', rig.victim),
      link('up', '..'),
      link('d/up2', '../../outer'),
      link('back', 'a\\..\\..\\x'),
      link('fine', 'd'),
    ],
  };
  const events: GetEvent[] = [];
  const err = await get(rig, ['tree'], events);
  assert.equal(err, undefined, `the download succeeds without the bad links: ${String(err)}`);
  const skipped = events.flatMap((e) => (e.type === 'entry-skipped' ? [e.path] : []));
  assert.deepEqual(skipped.sort(), [
    'tree/abs',
    'tree/back',
    'tree/d/passwd',
    'tree/d/up2',
    'tree/up',
    'tree/victim',
  ]);
  const after = await contentsUnder(rig.work);
  const created = Object.keys(after).filter((k) => !(k in before));
  assert.deepEqual(created.sort(), ['outer/dest/tree', 'outer/dest/tree/d', 'outer/dest/tree/fine']);
  assert.equal(after['outer/dest/tree/fine'], '-> d', 'a link that stays inside is recreated');
});

test('a listed directory that collides with a symlink planted in the destination is refused with PATH_ESCAPES_ROOT; the link target is untouched', async (t) => {
  const rig = await startRig(t);
  await mkdir(join(rig.dest, 'tree', 'deep'), { recursive: true });
  await symlink(rig.outside, join(rig.dest, 'tree', 'deep', 'planted'));
  await symlink(rig.outside, join(rig.dest, 'tree', 'top-planted'));
  for (const path of [
    'deep/planted/victim.txt',
    'deep/planted/new/x',
    'top-planted/victim.txt',
    'deep/planted',
  ]) {
    const before = await contentsUnder(rig.work);
    rig.fake.script = { entries: [dir('deep'), dir('deep/planted'), file(path)] };
    const err = await get(rig, ['tree']);
    assert.equal((err as { code?: string } | undefined)?.code, 'PATH_ESCAPES_ROOT', path);
    assert.deepEqual(await contentsUnder(rig.work), before, `nothing changed for ${path}`);
  }
  assert.equal(await readFile(rig.victim, 'utf8'), 'original victim content\n');
});

test('a listing with bytes the encoder refuses (NUL in a link target, an empty path, an unknown kind) fails the session as MESSAGE_MALFORMED', async (t) => {
  const rig = await startRig(t);
  const cases: Array<[string, Buffer]> = [
    ['NUL in a link target', rawListEntries(3, Buffer.from('l'), Buffer.from('a\u0000/../../x'))],
    ['an empty path', rawListEntries(1, Buffer.alloc(0), Buffer.alloc(0))],
    ['an unknown kind', rawListEntries(9, Buffer.from('x'), Buffer.alloc(0))],
    ['a file with a link target', rawListEntries(1, Buffer.from('x'), Buffer.from('../../x'))],
    [
      'invalid utf-8 in a path',
      rawListEntries(1, Buffer.from([0x2e, 0x2e, 0xc0, 0xaf, 0x78]), Buffer.alloc(0)),
    ],
  ];
  for (const [what, raw] of cases) {
    const before = await contentsUnder(rig.work);
    rig.fake.script = { rawListPlaintexts: [raw] };
    const err = await get(rig, ['tree']);
    assert.equal((err as { code?: string } | undefined)?.code, 'MESSAGE_MALFORMED', what);
    assert.deepEqual(await contentsUnder(rig.work), before, `nothing changed for ${what}`);
  }
});

test('`ferry get -r` against a hostile server exits 7 for an escaping name, warns about an escaping link, and writes nothing outside', async (t) => {
  const rig = await startRig(t);
  const home = await makeTempDir('ferry-malicious-home-');
  t.after(() => removeTempDir(home));
  const keygen = await runFerry(['--home', home, 'keygen']);
  assert.equal(keygen.code, 0, keygen.stderr);
  const { host, port } = rig.fake.address;
  const args = [
    '--home',
    home,
    'get',
    '-r',
    `${host}:${port}/tree`,
    rig.dest,
    '--expect',
    rig.fake.id,
    '--retries',
    '0',
  ];

  for (const path of ['../../x', 'a/../../x', rig.victim, 'a\\..\\x', 'bell\u0007name']) {
    const before = await contentsUnder(rig.work);
    rig.fake.script = { entries: [file(path)] };
    const result = await runFerry(args);
    assert.equal(result.code, 7, `${JSON.stringify(path)}: exit ${result.code}\n${result.stderr}`);
    assert.match(result.stderr, /PATH_INVALID/);
    assert.deepEqual(await contentsUnder(rig.work), before, `nothing changed for ${JSON.stringify(path)}`);
  }

  const before = await contentsUnder(rig.work);
  rig.fake.script = { entries: [link('evil', '../../../etc/passwd'), file('ok.txt')] };
  const result = await runFerry(args);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /skipped tree\/evil: symbolic link points outside the tree/);
  const after = await contentsUnder(rig.work);
  assert.deepEqual(
    Object.keys(after)
      .filter((k) => !(k in before))
      .sort(),
    ['outer/dest/tree', 'outer/dest/tree/ok.txt'],
  );
  await rm(join(rig.dest, 'tree'), { recursive: true });
});

test('a server cannot make the client take a rewritten chunk: data for a chunk already verified fails the download, and nothing lands', async (t) => {
  const rig = await startRig(t);
  const chunkBytes = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
  const first = Buffer.alloc(chunkBytes, 0x41);
  const second = Buffer.alloc(chunkBytes, 0x42);
  const forged = Buffer.alloc(chunkBytes, 0x58);
  const hash = (bytes: Buffer): Buffer => chunkHashOf(bytes);
  rig.fake.script = {
    answerGet: async (channel, { ref }) => {
      await channel.send({
        type: 'GET_OFFER',
        ref,
        size: 2 * chunkBytes,
        mtimeMs: 0,
        mode: 0o644,
        heldAccepted: false,
      });
      await sendGetData(channel, ref, 0, first);
      await channel.send({ type: 'GET_CHUNK', ref, index: 0, chunkHash: hash(first) });
      // Chunk 0 again, with other bytes and a hash that matches them, and a digest over the forged chunk: on
      // a8541e7 the client wrote it over the verified chunk and reported the forged file as verified.
      await sendGetData(channel, ref, 0, forged);
      await channel.send({ type: 'GET_CHUNK', ref, index: 0, chunkHash: hash(forged) });
      await sendGetData(channel, ref, chunkBytes, second);
      await channel.send({ type: 'GET_CHUNK', ref, index: 1, chunkHash: hash(second) });
      const fileDigestOf = fileDigest(2 * chunkBytes, chunkBytes, [hash(forged), hash(second)]);
      await channel.send({ type: 'GET_END', ref, fileDigest: fileDigestOf });
    },
  };
  const err = await get(rig, ['f.bin'], [], { recursive: false, chunkBytes });
  assert.equal((err as { code?: string } | undefined)?.code, 'MESSAGE_MALFORMED', String(err));
  assert.match((err as Error).message, /chunk 0 is already verified/);
  await assert.rejects(lstat(join(rig.dest, 'f.bin')), { code: 'ENOENT' }, 'no file under the final name');
});

test('a server accepting a held set for a file of another size is refused (MESSAGE_MALFORMED): the client counts no chunk of the wrong length as held', async (t) => {
  const rig = await startRig(t);
  const chunkBytes = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
  const chunk = Buffer.alloc(chunkBytes, 0x41);
  const hash = chunkHashOf(chunk);
  const requests: Array<Extract<Message, { type: 'GET_REQUEST' }>> = [];
  rig.fake.script = {
    answerGet: async (channel, request) => {
      requests.push(request);
      const { ref } = request;
      if (requests.length === 1) {
        // The first attempt: chunk 0 of a 3-chunk file arrives verified, then the server refuses the rest.
        await channel.send({
          type: 'GET_OFFER',
          ref,
          size: 3 * chunkBytes,
          mtimeMs: 0,
          mode: 0o644,
          heldAccepted: false,
        });
        await sendGetData(channel, ref, 0, chunk);
        await channel.send({ type: 'GET_CHUNK', ref, index: 0, chunkHash: hash });
        await channel.send({ type: 'ERROR', ref, code: ERROR_CODES.PERMISSION_DENIED.wire, detail: '' });
        return;
      }
      // The resume: the client claims chunk 0 of its 3 KiB partial; the server accepts it for a 2 KiB file.
      await channel.send({
        type: 'GET_OFFER',
        ref,
        size: 2 * chunkBytes + 10,
        mtimeMs: 0,
        mode: 0o644,
        heldAccepted: true,
      });
    },
  };
  const first = await get(rig, ['f.bin'], [], { recursive: false, chunkBytes });
  assert.equal((first as { code?: string } | undefined)?.code, 'PERMISSION_DENIED', String(first));
  const err = await get(rig, ['f.bin'], [], { recursive: false, chunkBytes });
  assert.equal(requests[1]?.heldSize, 3 * chunkBytes, 'the resume claimed the partial it kept');
  assert.equal((err as { code?: string } | undefined)?.code, 'MESSAGE_MALFORMED', String(err));
  assert.match((err as Error).message, /held set of 196608 bytes for a file of 131082 bytes/);
  await assert.rejects(lstat(join(rig.dest, 'f.bin')), { code: 'ENOENT' }, 'no file under the final name');
});

test('a hostile server learns neither the size nor a hash of local files it names, and no outcome of their comparison (PROTOCOL.md §5.11.1)', async (t) => {
  const rig = await startRig(t);
  const chunkBytes = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
  const secret = Buffer.from('the local secret, 40 bytes long........\n');
  const known = Buffer.from('a file the server has too\n');
  await writeFile(join(rig.dest, 'secret.txt'), secret);
  await writeFile(join(rig.dest, 'known.txt'), known);
  const requests: Array<Extract<Message, { type: 'GET_REQUEST' }>> = [];
  // The server guesses: for secret.txt, content of the right size but wrong; for known.txt, the right content.
  const guess = (path: string): Buffer => (path === 'known.txt' ? known : Buffer.alloc(secret.length, 0x61));
  rig.fake.script = {
    isFile: true,
    answerGet: async (channel, request) => {
      requests.push(request);
      const content = guess(request.path);
      const { ref } = request;
      await channel.send({
        type: 'GET_OFFER',
        ref,
        size: content.length,
        mtimeMs: 0,
        mode: 0o644,
        heldAccepted: false,
      });
      await channel.send({
        type: 'GET_END',
        ref,
        fileDigest: fileDigest(content.length, chunkBytes, [chunkHashOf(content)]),
      });
    },
  };
  const events: GetEvent[] = [];
  const err = await get(rig, ['secret.txt', 'known.txt'], events, { recursive: false, chunkBytes });
  assert.equal((err as { code?: string } | undefined)?.code, 'FILE_EXISTS', String(err));
  assert.deepEqual(
    requests.map((r) => [
      r.path,
      r.verifyOnly,
      r.heldSize,
      r.ranges.length,
      r.haveDigest.equals(Buffer.alloc(32)),
    ]),
    [
      ['secret.txt', true, 0, 0, true],
      ['known.txt', true, 0, 0, true],
    ],
    'each request states only that a file is there',
  );
  assert.deepEqual(
    await readFile(join(rig.dest, 'secret.txt')),
    secret,
    'the different file is left as it was',
  );
  assert.deepEqual(
    events
      .filter((e) => e.type === 'transfer-failed' || e.type === 'transfer-finished')
      .map((e) => [e.type, e.remotePath]),
    [
      ['transfer-failed', 'secret.txt'],
      ['transfer-finished', 'known.txt'],
    ],
  );
  // Nothing after the requests tells the server which guess was right: no CANCEL, no other message for a ref.
  const afterRequests = rig.fake.received.filter(
    (m) => m.type !== 'LIST_REQUEST' && m.type !== 'GET_REQUEST' && m.type !== 'GET_BATCH',
  );
  assert.deepEqual(
    afterRequests.map((m) => m.type),
    [],
  );
});

/** Characters no byte stream bound for a terminal may carry raw: controls, C1, bidi overrides and isolates. */
const RAW_UNSAFE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

/** Fails when `output` holds a raw unsafe character anywhere but in its line breaks. */
function assertNothingRaw(output: string, what: string): void {
  const match = RAW_UNSAFE.exec(output.replace(/\n/g, ''));
  assert.equal(
    match,
    null,
    `${what}: raw U+${match?.[0].codePointAt(0)?.toString(16)} in ${JSON.stringify(output)}`,
  );
}

/** Names a hostile server lists to take over a terminal: clear it, recolour it, reverse text, fake a line. */
const TERMINAL_ATTACKS: ListEntry[] = [
  file('clear\u001b[2J\u001b[Hall files verified'),
  file('csi\u009b31mred'),
  file('invoice\u202efdp.exe'),
  dir('isolate\u2066d'),
  link('title', 'x\u001b]0;owned\u0007'),
  link('lrm\u200f', 'y\u009b2J'),
];

test('`ferry ls` shows names and link targets from a hostile server escaped (no raw ESC, C1 or bidi byte), and `ls --json` keeps them exact', async (t) => {
  const rig = await startRig(t);
  const home = await makeTempDir('ferry-malicious-home-');
  t.after(() => removeTempDir(home));
  assert.equal((await runFerry(['--home', home, 'keygen'])).code, 0);
  const { host, port } = rig.fake.address;
  const args = ['--home', home, 'ls', '-r', `${host}:${port}`, '--expect', rig.fake.id, '--retries', '0'];
  rig.fake.script = { entries: TERMINAL_ATTACKS };

  const listed = await runFerry(args);
  assert.equal(listed.code, 0, listed.stderr);
  assertNothingRaw(listed.stdout, 'ls stdout');
  assertNothingRaw(listed.stderr, 'ls stderr');
  const lines = listed.stdout.trimEnd().split('\n');
  assert.equal(lines.length, TERMINAL_ATTACKS.length);
  assert.match(lines[0]!, / clear\\x1B\[2J\\x1B\[Hall files verified$/);
  assert.match(lines[1]!, / csi\\x9B31mred$/);
  assert.match(lines[2]!, / invoice\\u202Efdp\.exe$/);
  assert.match(lines[3]!, / isolate\\u2066d\/$/);
  assert.match(lines[4]!, / title -> x\\x1B\]0;owned\\x07$/);
  assert.match(lines[5]!, / lrm\\u200F -> y\\x9B2J$/);

  const json = await runFerry([...args, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assertNothingRaw(json.stdout, 'ls --json stdout');
  const parsed = json.stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as ListEntry);
  assert.deepEqual(
    parsed.map((e) => [e.path, e.linkTarget]),
    TERMINAL_ATTACKS.map((e) => [e.path, e.linkTarget]),
    'exact',
  );
});

test('`ferry get` shows a hostile server names and error details escaped in its lines, warnings and errors, and `--json` keeps them exact', async (t) => {
  const rig = await startRig(t);
  const home = await makeTempDir('ferry-malicious-home-');
  t.after(() => removeTempDir(home));
  assert.equal((await runFerry(['--home', home, 'keygen'])).code, 0);
  const { host, port } = rig.fake.address;
  const common = ['--home', home, '--expect', rig.fake.id, '--retries', '0'];

  // A name that is a valid remote path but reads backwards, and a link that points outside with a loud name.
  rig.fake.script = {
    entries: [file('invoice\u202efdp.exe'), link('up\u2067', '../../x\u001b[2J')],
  };
  const got = await runFerry(['get', '-r', '-v', `${host}:${port}/tree`, rig.dest, ...common]);
  assert.equal(got.code, 0, got.stderr);
  assertNothingRaw(got.stdout + got.stderr, 'get -r');
  assert.match(got.stderr, /tree\/invoice\\u202Efdp\.exe -> /);
  assert.match(got.stderr, /skipped tree\/up\\u2067: symbolic link points outside the tree/);

  const json = await runFerry(['get', '-r', `${host}:${port}/tree2`, rig.dest, '--json', ...common]);
  assert.equal(json.code, 0, json.stderr);
  assertNothingRaw(json.stdout + json.stderr, 'get -r --json');
  const events = json.stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; remotePath?: string; path?: string });
  assert.ok(
    events.some((e) => e.type === 'transfer-finished' && e.remotePath === 'tree2/invoice\u202efdp.exe'),
  );
  assert.ok(events.some((e) => e.type === 'entry-skipped' && e.path === 'tree2/up\u2067'));

  // The server's own words: an ERROR detail that would clear the screen and forge a success line.
  const detail = 'no such file\u001b[2K\r\u001b[32mall files verified\u009b0m\u202e';
  rig.fake.script = { getError: { code: 'PATH_NOT_FOUND', detail } };
  for (const extra of [[], ['--json']]) {
    const failed = await runFerry(['get', `${host}:${port}/x`, rig.dest, ...extra, ...common]);
    assert.equal(failed.code, 7, failed.stderr);
    assertNothingRaw(failed.stdout + failed.stderr, `failed get ${extra.join(' ')}`);
    assert.match(
      failed.stderr,
      // The server's detail escaped, then ferry's own hint (src/cli/remote-missing-hint.ts).
      /ferry: PATH_NOT_FOUND: .*: no such file\\x1B\[2K\\x0D\\x1B\[32mall files verified\\x9B0m\\u202E \(from the server\); `ferry ls [^`]+` lists what is there$/m,
    );
    if (extra.length > 0) {
      const summary = failed.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { type: string; message?: string })
        .find((e) => e.type === 'summary');
      // The stderr line's words (errorMessage), the server's detail exact inside them, marked as its.
      assert.equal(
        summary?.message,
        `no such file or directory: ${host}:${port}/x: ${detail} (from the server); \`ferry ls ${host}:${port}\` lists what is there`,
        '--json keeps the detail exact',
      );
    }
  }
});

test('a listing is capped at MAX_LIST_ENTRIES while it streams: the client hangs up at the first entry beyond it (MESSAGE_MALFORMED)', async (t) => {
  const rig = await startRig(t);
  const upTo = 2 * MAX_LIST_ENTRIES;
  rig.fake.script = { stream: { entry: file('f'), upTo } };
  const err = await get(rig, ['tree']);
  assert.equal((err as { code?: string } | undefined)?.code, 'MESSAGE_MALFORMED', String(err));
  assert.match(String((err as Error).message), /listing exceeds 1000000 entries/);
  assert.ok(rig.fake.streamedEntries < upTo, `cut off after ${rig.fake.streamedEntries} of ${upTo} entries`);
  t.diagnostic(`the server was cut off after ${rig.fake.streamedEntries} of ${upTo} entries`);
  assert.deepEqual(rig.fake.requestedPaths, []);
});

test('a listing is capped at MAX_LIST_BYTES of entries while it streams, however few they are (MESSAGE_MALFORMED)', async (t) => {
  const rig = await startRig(t);
  const path = 'p'.repeat(4000);
  const upTo = Math.ceil((1.5 * MAX_LIST_BYTES) / listEntryBytes(file(path)));
  rig.fake.script = { stream: { entry: file(path), upTo } };
  const err = await get(rig, ['tree']);
  assert.equal((err as { code?: string } | undefined)?.code, 'MESSAGE_MALFORMED', String(err));
  assert.match(String((err as Error).message), /bytes/);
  assert.ok(rig.fake.streamedEntries < upTo, `cut off after ${rig.fake.streamedEntries} of ${upTo} entries`);
  t.diagnostic(`the server was cut off after ${rig.fake.streamedEntries} of ${upTo} entries`);
});

test('downloaded files and directories are never group/world-writable or setuid, whatever modes the server claims', async (t) => {
  const rig = await startRig(t);
  rig.fake.script = {
    entries: [
      { ...dir('open'), mode: 0o777 },
      { ...dir('sticky'), mode: 0o1777 },
      { ...dir('private'), mode: 0o500 },
      file('open/run'),
    ],
    fileMode: 0o6777,
  };
  const err = await get(rig, ['tree']);
  assert.equal(err, undefined, String(err));
  const modeOf = async (path: string): Promise<number> => (await lstat(join(rig.dest, path))).mode & 0o7777;
  assert.equal(await modeOf('tree'), 0o755, 'the top directory (LIST_END says 0777)');
  assert.equal(await modeOf('tree/open'), 0o755);
  assert.equal(await modeOf('tree/sticky'), 0o755);
  assert.equal(await modeOf('tree/private'), 0o700);
  assert.equal(await modeOf('tree/open/run'), 0o755);
});

test('a nested `.ferry` directory downloads like any other name; `.ferry` first in the remote path is still refused (PATH_INVALID)', async (t) => {
  const rig = await startRig(t);
  rig.fake.script = { entries: [dir('.ferry'), file('.ferry/x'), file('.FERRY/y')] };
  const err = await get(rig, ['photos']);
  assert.equal(err, undefined, String(err));
  assert.equal(
    await readFile(join(rig.dest, 'photos', '.ferry', 'x'), 'utf8'),
    'planted by a hostile server as photos/.ferry/x\n',
  );
  assert.deepEqual(rig.fake.requestedPaths.sort(), ['photos/.FERRY/y', 'photos/.ferry/x']);

  for (const path of ['.ferry/partial/x', '.FERRY/x', '.Ferry']) {
    const before = await contentsUnder(rig.work);
    rig.fake.script = { entries: [file(path)] };
    assert.equal(((await get(rig, [''])) as { code?: string } | undefined)?.code, 'PATH_INVALID', path);
    assert.deepEqual(await contentsUnder(rig.work), before, path);
  }
});

/** The review's chain: each target is lexically inside, yet `y/..` climbs from where `y` leads. */
const CHAIN: ListEntry[] = [
  dir('d'),
  dir('d/e'),
  link('d/e/y', '..'),
  link('d/e/u1', 'y/..'),
  link('d/e/u2', 'u1/..'),
  link('d/e/u3', 'u2/..'),
  link('d/e/u4', 'u3/..'),
  // An innocent name whose chain of links ends outside.
  link('d/e/m', 'n'),
  link('d/e/n', 'u4/outside/victim.txt'),
];

test('getFiles -r skips link chains (y -> .., u1 -> y/.., ...) and links to links that end outside, in any listing order', async (t) => {
  const rig = await startRig(t);
  for (const entries of [CHAIN, [...CHAIN].reverse()]) {
    await rm(join(rig.dest, 'tree'), { recursive: true, force: true });
    const before = await contentsUnder(rig.work);
    rig.fake.script = { entries: [...entries, link('d/e/fine', 'y/e')] };
    const events: GetEvent[] = [];
    const err = await get(rig, ['tree'], events);
    assert.equal(err, undefined, String(err));
    const skipped = events.flatMap((e) => (e.type === 'entry-skipped' ? [e.path] : [])).sort();
    assert.deepEqual(
      skipped,
      ['m', 'n', 'u1', 'u2', 'u3', 'u4'].map((name) => `tree/d/e/${name}`),
    );
    const after = await contentsUnder(rig.work);
    assert.deepEqual(
      Object.keys(after)
        .filter((k) => !(k in before))
        .sort(),
      [
        'outer/dest/tree',
        'outer/dest/tree/d',
        'outer/dest/tree/d/e',
        'outer/dest/tree/d/e/fine',
        'outer/dest/tree/d/e/y',
      ],
    );
    assert.equal(await readFile(rig.victim, 'utf8'), 'original victim content\n');
  }
});

test('getFiles -r skips a link the listing allows but whose chain runs through a link already in the destination', async (t) => {
  const rig = await startRig(t);
  // Planted before the download (a local user, an older ferry): the listing cannot know about it.
  await mkdir(join(rig.dest, 'tree'), { recursive: true });
  await symlink(rig.outside, join(rig.dest, 'tree', 'planted'));
  await symlink('planted', join(rig.dest, 'tree', 'planted2'));
  rig.fake.script = {
    entries: [link('via', 'planted/victim.txt'), link('via2', 'planted2'), link('ok', 'sub/x'), dir('sub')],
  };
  const events: GetEvent[] = [];
  const err = await get(rig, ['tree'], events);
  assert.equal(err, undefined, String(err));
  assert.deepEqual(events.flatMap((e) => (e.type === 'entry-skipped' ? [e.path] : [])).sort(), [
    'tree/via',
    'tree/via2',
  ]);
  await assert.rejects(lstat(join(rig.dest, 'tree', 'via')), { code: 'ENOENT' });
  assert.equal(await readlink(join(rig.dest, 'tree', 'ok')), 'sub/x');
});

/** A file of several chunks, so its download keeps a state file (PROTOCOL.md §9.2). */
function bigFile(path: string): ListEntry {
  return { kind: 'file', mode: 0o644, size: 4096, mtimeMs: 0, path, linkTarget: '' };
}

test('a second `get -r` of a planted tree cannot truncate an outside file through the state file or its temporary', async (t) => {
  const rig = await startRig(t);
  // The reproduction: the first get would plant `.big.ferry-state.tmp` leading out through the chain; the
  // second get's state writer then opened it with open(tmp, 'w') and truncated the victim.
  const plant = [
    ...CHAIN,
    link('d/e/.big.ferry-state.tmp', 'u4/outside/victim.txt'),
    link('d/e/.big.ferry-state', 'u4/outside/victim.txt'),
  ];
  rig.fake.script = { entries: plant };
  assert.equal(await get(rig, ['tree']), undefined);
  rig.fake.script = { entries: [...plant, bigFile('d/e/big')], fileBytes: 4096 };
  await get(rig, ['tree']);
  assert.equal(await readFile(rig.victim, 'utf8'), 'original victim content\n');
  // Even with the links planted by other means (a local user, an older ferry), nothing is written through them.
  for (const name of ['.big.ferry-state.tmp', '.big.ferry-state', '.big.ferry-part']) {
    await rm(join(rig.dest, 'tree'), { recursive: true, force: true });
    await mkdir(join(rig.dest, 'tree', 'd', 'e'), { recursive: true });
    await symlink(rig.victim, join(rig.dest, 'tree', 'd', 'e', name));
    rig.fake.script = { entries: [dir('d'), dir('d/e'), bigFile('d/e/big')], fileBytes: 4096 };
    const err = (await get(rig, ['tree'])) as (Error & { code?: string }) | undefined;
    // STATE_FILE_IN_THE_WAY: a link where the resume state goes is not ferry's, and is named for removal.
    const refused = ['FILE_EXISTS', 'PATH_ESCAPES_ROOT', 'STATE_FILE_IN_THE_WAY'];
    assert.ok(refused.includes(err?.code ?? ''), `${name}: ${err?.message}`);
    assert.equal(await readFile(rig.victim, 'utf8'), 'original victim content\n', name);
    assert.equal(await readlink(join(rig.dest, 'tree', 'd', 'e', name)), rig.victim, `${name} is left alone`);
  }
});

test('files named like a partial that ferry did not make (.X.ferry-part, .X.ferry-state, .X.ferry-state.tmp, .X.ferry-link) are never truncated or removed', async (t) => {
  const rig = await startRig(t);
  const tree = join(rig.dest, 'tree');
  const mine = 'the user own file, not a partial\n';
  for (const name of [
    '.small.ferry-part',
    '.big.ferry-part',
    '.big.ferry-state',
    '.other.ferry-state.tmp',
    '.l.ferry-link',
  ]) {
    await rm(tree, { recursive: true, force: true });
    await mkdir(tree, { recursive: true });
    await writeFile(join(tree, name), mine);
    const listed = name.split('.')[1]!;
    rig.fake.script = {
      entries: listed === 'l' ? [link('l', 'target')] : [listed === 'small' ? file(listed) : bigFile(listed)],
      fileBytes: listed === 'small' ? 100 : 4096,
    };
    const err = (await get(rig, ['tree'])) as (Error & { code?: string }) | undefined;
    if (listed === 'l') {
      assert.equal(err, undefined, err?.message);
      assert.equal(await readlink(join(tree, 'l')), 'target', 'the link is made beside the file');
    } else {
      // A file of the user's where the partial or its state goes is named for removal (no --overwrite hint).
      assert.equal(err?.code, 'STATE_FILE_IN_THE_WAY', `${name}: ${err?.message}`);
      assert.ok(err?.message.includes(`remove ${join(tree, name)} `), `${name}: ${err?.message}`);
    }
    assert.equal(await readFile(join(tree, name), 'utf8'), mine, `${name} is unchanged`);
  }
});

test('a link made in the destination after the listing was checked (a racing local process) is seen when each link is made: the chain through it is skipped', async (t) => {
  const rig = await startRig(t);
  const data = Buffer.from('content\n');
  const chunkHash = chunkHashOf(data);
  rig.fake.script = {
    // `planted` is missing when the listing is checked, so `via` and `later` pass that check.
    entries: [file('f'), link('via', 'planted/victim.txt'), link('later', 'planted'), link('ok', 'f')],
    answerGet: async (channel, { ref, chunkBytes }) => {
      // Between the check of the listing and the making of the links, a local process plants a link.
      await symlink(rig.outside, join(rig.dest, 'tree', 'planted'));
      await channel.send({
        type: 'GET_OFFER',
        ref,
        size: data.length,
        mtimeMs: 0,
        mode: 0o644,
        heldAccepted: false,
      });
      await channel.send({ type: 'GET_DATA', ref, offset: 0, data });
      await channel.send({ type: 'GET_CHUNK', ref, index: 0, chunkHash });
      await channel.send({
        type: 'GET_END',
        ref,
        fileDigest: fileDigest(data.length, chunkBytes, [chunkHash]),
      });
    },
  };
  const events: GetEvent[] = [];
  const err = (await get(rig, ['tree'], events)) as Error | undefined;
  assert.equal(err, undefined, err?.message);
  assert.deepEqual(events.flatMap((e) => (e.type === 'entry-skipped' ? [e.path] : [])).sort(), [
    'tree/later',
    'tree/via',
  ]);
  for (const name of ['via', 'later'])
    await assert.rejects(lstat(join(rig.dest, 'tree', name)), { code: 'ENOENT' });
  assert.equal(await readlink(join(rig.dest, 'tree', 'ok')), 'f');
  assert.equal(await readFile(rig.victim, 'utf8'), 'original victim content\n');
});

test('syncTree from a server refuses every escaping or invalid listed name with PATH_INVALID, and neither writes nor removes anything, even with delete', async (t) => {
  const rig = await startRig(t);
  // With `delete`, an accepted listing would remove this file: a refused one must leave it.
  await writeFile(join(rig.dest, 'keep.txt'), 'kept\n');
  for (const path of [...ESCAPING_PATHS, rig.victim]) {
    const before = await contentsUnder(rig.work);
    rig.fake.script = { entries: [file('innocent.txt'), file(path)] };
    const err = await syncTree({
      server: rig.fake.address,
      identity: generateKeyPair(),
      verifyServer: () => undefined,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
      direction: 'download',
      localDir: rig.dest,
      remotePath: 'tree',
      delete: true,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal(
      (err as { code?: string } | undefined)?.code,
      'PATH_INVALID',
      `listing with ${JSON.stringify(path)}`,
    );
    assert.deepEqual(await contentsUnder(rig.work), before, `nothing changed for ${JSON.stringify(path)}`);
  }
  assert.deepEqual(rig.fake.requestedPaths, [], 'a bad listing stops the sync before any request');
  assert.equal(await readFile(join(rig.dest, 'keep.txt'), 'utf8'), 'kept\n');
});

test('a batch entry whose bytes do not match its digest is refused alone and nothing of it is written (PROTOCOL.md §5.20)', async (t) => {
  const rig = await startRig(t);
  const good = Buffer.from('good content\n');
  rig.fake.script = {
    entries: [file('a.txt'), file('b.txt'), file('c.txt')],
    batchEntry: (path) => ({
      status: 'file',
      mtimeMs: 0,
      mode: 0o644,
      // b.txt: the digest of other bytes, as a lying or corrupting server would send.
      fileDigest: smallFileDigest(path === 'b.txt' ? Buffer.from('other') : good, DEFAULT_CHUNK_BYTES),
      data: good,
    }),
  };
  const before = await contentsUnder(rig.work);
  const events: GetEvent[] = [];
  const err = await get(rig, [''], events);
  assert.equal((err as { code?: string } | undefined)?.code, 'DIGEST_MISMATCH', String(err));
  const after = await contentsUnder(rig.work);
  assert.deepEqual(
    Object.keys(after)
      .filter((k) => !(k in before))
      .sort(),
    ['outer/dest/a.txt', 'outer/dest/c.txt'],
    'only the verified files, and no temporary, are written',
  );
  assert.deepEqual(
    events
      .filter((e) => e.type === 'transfer-failed')
      .map((e) => (e.type === 'transfer-failed' ? [e.remotePath, e.code] : [])),
    [['b.txt', 'DIGEST_MISMATCH']],
  );
});

test('an answer to a GET_BATCH with more entries than paths fails the session and places nothing (PROTOCOL.md §5.20)', async (t) => {
  const rig = await startRig(t);
  rig.fake.script = { entries: [file('a.txt'), file('b.txt')], extraBatchEntries: 1 };
  const before = await contentsUnder(rig.work);
  const err = await get(rig, ['']);
  assert.equal((err as { code?: string } | undefined)?.code, 'MESSAGE_MALFORMED', String(err));
  const after = await contentsUnder(rig.work);
  assert.deepEqual(
    Object.keys(after).filter((k) => !(k in before)),
    [],
    'no file and no temporary',
  );
});
