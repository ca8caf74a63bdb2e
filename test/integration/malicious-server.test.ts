// A hostile server (PROTOCOL.md §5.12: "The client MUST validate every path it receives as if it came from an
// attacker"). The fake server below is built from the channel layer only: a real Noise handshake, a WELCOME,
// then LIST_ENTRIES with escaping names and GET data for anything requested. The client (library getFiles
// and the CLI `get -r`) must never write outside its destination: the directory around the destination is
// snapshotted before and after, and the client must fail with a path error or skip the link with a warning.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { lstat, mkdir, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { formatFerryId, generateKeyPair } from '../../src/crypto/index.js';
import { FramedSocket, serverHandshake, type SecureChannel } from '../../src/channel/index.js';
import { fileDigest, type ListEntry, type Message } from '../../src/protocol/index.js';
import { getFiles, type GetEvent } from '../../src/client/index.js';
import { runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** What the fake server answers to a LIST_REQUEST: entries it encodes, or record plaintexts built by hand. */
interface Script {
  entries?: ListEntry[];
  /** Hand-built LIST_ENTRIES plaintexts for values the encoder refuses; sent before LIST_END. */
  rawListPlaintexts?: Buffer[];
  isFile?: boolean;
  /** Answers a GET_REQUEST by hand instead of with the planted file. */
  answerGet?: (channel: SecureChannel, request: Extract<Message, { type: 'GET_REQUEST' }>) => Promise<void>;
}

/** A server that speaks the protocol correctly but lies about names. Records every GET path requested. */
class MaliciousServer {
  readonly identity = generateKeyPair();
  readonly requestedPaths: string[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #script: Script = {};

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<MaliciousServer> {
    const server = createServer();
    const fake = new MaliciousServer(server);
    server.on('connection', (socket) => void fake.#serve(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return fake;
  }

  set script(script: Script) {
    this.#script = script;
  }

  get address(): { host: string; port: number } {
    const info = this.#server.address();
    if (info === null || typeof info === 'string') throw new Error('not listening');
    return { host: info.address, port: info.port };
  }

  get id(): string {
    return formatFerryId(this.identity.publicKey);
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #serve(socket: Socket): Promise<void> {
    socket.on('error', () => undefined);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    let channel: SecureChannel | undefined;
    try {
      ({ channel } = await serverHandshake(new FramedSocket(socket), { identity: this.identity }));
      await channel.send({ type: 'WELCOME', permissions: 3, maxFileBytes: 0 });
      for (;;) await this.#answer(channel, await channel.receive());
    } catch {
      // The client hung up (or refused us): that is the point of most tests here.
    } finally {
      channel?.close();
      socket.destroy();
    }
  }

  async #answer(channel: SecureChannel, message: Message): Promise<void> {
    if (message.type === 'LIST_REQUEST') {
      const { entries = [], rawListPlaintexts = [], isFile = false } = this.#script;
      if (entries.length > 0) await channel.send({ type: 'LIST_ENTRIES', ref: message.ref, entries });
      for (const raw of rawListPlaintexts) {
        raw.writeUInt32BE(message.ref, 1);
        await channel.sendPlaintext(raw);
      }
      const totalEntries = entries.length + rawListPlaintexts.length;
      await channel.send({
        type: 'LIST_END',
        ref: message.ref,
        totalEntries,
        isFile,
        mode: 0o755,
        mtimeMs: 0,
      });
    } else if (message.type === 'GET_REQUEST') {
      this.requestedPaths.push(message.path);
      if (this.#script.answerGet) return this.#script.answerGet(channel, message);
      const data = Buffer.from(`planted by a hostile server as ${message.path}\n`);
      const chunkHash = createHash('sha256').update(data).digest();
      const { ref, chunkBytes } = message;
      await channel.send({
        type: 'GET_OFFER',
        ref,
        size: data.length,
        mtimeMs: 0,
        mode: 0o755,
        heldAccepted: false,
      });
      await channel.send({ type: 'GET_DATA', ref, offset: 0, data });
      await channel.send({ type: 'GET_CHUNK', ref, index: 0, chunkHash });
      await channel.send({
        type: 'GET_END',
        ref,
        fileDigest: fileDigest(data.length, chunkBytes, [chunkHash]),
      });
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

/** Everything under `top` with file contents and link targets, to prove nothing changed around the destination. */
async function snapshot(top: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(top, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const key = path.slice(top.length + 1);
    if (entry.isSymbolicLink()) out[key] = `-> ${await readlink(path)}`;
    else if (entry.isDirectory()) out[key] = 'dir';
    else
      out[key] = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
  }
  return out;
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

async function get(rig: Rig, remotePaths: string[], events: GetEvent[] = []): Promise<unknown> {
  try {
    await getFiles({
      server: rig.fake.address,
      identity: generateKeyPair(),
      verifyServer: () => undefined,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
      remotePaths,
      localDir: rig.dest,
      recursive: true,
      chunkBytes: 1024,
      onEvent: (event) => events.push(event),
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
  '.ferry/partial/x',
];

test('getFiles -r refuses every escaping or invalid name a server lists with PATH_INVALID, and writes nothing anywhere', async (t) => {
  const rig = await startRig(t);
  // The absolute path a hostile server would most like to reach: our victim file.
  for (const path of [...ESCAPING_PATHS, rig.victim]) {
    const before = await snapshot(rig.work);
    rig.fake.script = { entries: [file('innocent.txt'), file(path)] };
    const err = await get(rig, ['tree']);
    assert.equal(
      (err as { code?: string } | undefined)?.code,
      'PATH_INVALID',
      `listing with ${JSON.stringify(path)}`,
    );
    assert.deepEqual(await snapshot(rig.work), before, `nothing changed for ${JSON.stringify(path)}`);
  }
  assert.deepEqual(rig.fake.requestedPaths, [], 'a bad listing stops the download before any request');
  await assert.rejects(lstat('/etc/ferry-malicious-test'), { code: 'ENOENT' });
});

test('getFiles -r skips, with a warning, links whose target is absolute or climbs out of the download', async (t) => {
  const rig = await startRig(t);
  const before = await snapshot(rig.work);
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
  const after = await snapshot(rig.work);
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
    const before = await snapshot(rig.work);
    rig.fake.script = { entries: [dir('deep'), dir('deep/planted'), file(path)] };
    const err = await get(rig, ['tree']);
    assert.equal((err as { code?: string } | undefined)?.code, 'PATH_ESCAPES_ROOT', path);
    assert.deepEqual(await snapshot(rig.work), before, `nothing changed for ${path}`);
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
    const before = await snapshot(rig.work);
    rig.fake.script = { rawListPlaintexts: [raw] };
    const err = await get(rig, ['tree']);
    assert.equal((err as { code?: string } | undefined)?.code, 'MESSAGE_MALFORMED', what);
    assert.deepEqual(await snapshot(rig.work), before, `nothing changed for ${what}`);
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
    const before = await snapshot(rig.work);
    rig.fake.script = { entries: [file(path)] };
    const result = await runFerry(args);
    assert.equal(result.code, 7, `${JSON.stringify(path)}: exit ${result.code}\n${result.stderr}`);
    assert.match(result.stderr, /PATH_INVALID/);
    assert.deepEqual(await snapshot(rig.work), before, `nothing changed for ${JSON.stringify(path)}`);
  }

  const before = await snapshot(rig.work);
  rig.fake.script = { entries: [link('evil', '../../../etc/passwd'), file('ok.txt')] };
  const result = await runFerry(args);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /skipped tree\/evil: symbolic link points outside the tree/);
  const after = await snapshot(rig.work);
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
  const chunkBytes = 1024;
  const first = Buffer.alloc(chunkBytes, 0x41);
  const second = Buffer.alloc(chunkBytes, 0x42);
  const forged = Buffer.alloc(chunkBytes, 0x58);
  const hash = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest();
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
      await channel.send({ type: 'GET_DATA', ref, offset: 0, data: first });
      await channel.send({ type: 'GET_CHUNK', ref, index: 0, chunkHash: hash(first) });
      // Chunk 0 again, with other bytes and a hash that matches them, and a digest over the forged chunk: on
      // a8541e7 the client wrote it over the verified chunk and reported the forged file as verified.
      await channel.send({ type: 'GET_DATA', ref, offset: 0, data: forged });
      await channel.send({ type: 'GET_CHUNK', ref, index: 0, chunkHash: hash(forged) });
      await channel.send({ type: 'GET_DATA', ref, offset: chunkBytes, data: second });
      await channel.send({ type: 'GET_CHUNK', ref, index: 1, chunkHash: hash(second) });
      const fileDigestOf = fileDigest(2 * chunkBytes, chunkBytes, [hash(forged), hash(second)]);
      await channel.send({ type: 'GET_END', ref, fileDigest: fileDigestOf });
    },
  };
  let err: unknown;
  try {
    await getFiles({
      server: rig.fake.address,
      identity: generateKeyPair(),
      verifyServer: () => undefined,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
      remotePaths: ['f.bin'],
      localDir: rig.dest,
      chunkBytes,
    });
  } catch (caught) {
    err = caught;
  }
  assert.equal((err as { code?: string } | undefined)?.code, 'MESSAGE_MALFORMED', String(err));
  assert.match((err as Error).message, /chunk 0 is already verified/);
  await assert.rejects(lstat(join(rig.dest, 'f.bin')), { code: 'ENOENT' }, 'no file under the final name');
});
