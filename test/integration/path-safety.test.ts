// Path safety, both directions (PROTOCOL.md §7.1, §5.12; SECURITY.md "Malicious client", "Malicious server").
//
// Upload: an allowed client speaking raw protocol messages (so nothing on the client side filters names)
// offers hostile names to a real FerryServer. Download: `getFiles` fetches from a real FerryServer whose root
// holds odd but legal names into a local directory with links planted in it. For every case: nothing changes
// outside the root or the destination (a snapshot of everything around them, with a sentinel directory, is
// compared before and after), a refusal carries the right code, and no ERROR detail carries a server path.
//
// Decisions recorded here:
// - Windows device names (CON, NUL, COM1, LPT1, AUX, PRN, also with extensions) are ordinary names on POSIX,
//   where ferry runs: they are stored and downloaded verbatim. A Windows port would have to refuse them.
// - Names are bytes: NFC and NFD spellings of one name, and `A` / `a`, are distinct files on Linux and must
//   neither collide nor overwrite each other. ferry does not normalise (normalising would merge two
//   distinct files of one directory into one name).
// - Bidi overrides (U+202E) are legal by §7.1 and are stored verbatim (a terminal shows them escaped); C1
//   controls (U+0080-U+009F) are refused like C0 controls, and left out of listings.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ERROR_CODES, type ErrorCode } from '../../src/errors/index.js';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { FramedSocket, clientHandshake, type SecureChannel } from '../../src/channel/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  chunkHashOf,
  encodeMessage,
  fileDigest,
  type Message,
} from '../../src/protocol/index.js';
import { FerryServer } from '../../src/server/index.js';
import { getFiles, sendTree } from '../../src/client/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const clientIdentity = generateKeyPair();

let work: string;
let root: string;
let outside: string;
let victim: string;
let server: FerryServer;

before(async () => {
  work = await makeTempDir('ferry-path-safety-');
  outside = join(work, 'outside');
  victim = join(outside, 'victim.txt');
  await mkdir(join(outside, 'sub'), { recursive: true });
  await writeFile(victim, 'original victim content\n');
  server = await FerryServer.start({
    root: join(work, 'srv', 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: (key) =>
      key.equals(clientIdentity.publicKey)
        ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }
        : undefined,
    partialSweepIntervalMs: 0,
  });
  root = server.root;
});

after(async () => {
  await server.close();
  await removeTempDir(work);
});

/** Everything under `top` (file hashes, link targets, directories), to prove nothing changed there. */
async function snapshot(
  top: string,
  skip: (relative: string) => boolean = () => false,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(top, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const key = path.slice(top.length + 1);
    if (skip(key)) continue;
    try {
      if (entry.isSymbolicLink()) out[key] = `-> ${await readlink(path)}`;
      else if (entry.isDirectory()) out[key] = 'dir';
      else
        out[key] = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
    } catch (err) {
      // Removed between readdir and read (a client's partial being cleaned up): it is not there now.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out;
}

/** Everything in the work directory except the server root (where uploads legitimately land). */
function outsideRoot(): Promise<Record<string, string>> {
  return snapshot(work, (key) => key === 'srv/root' || key.startsWith('srv/root/'));
}

function codeName(wire: number): string {
  return Object.entries(ERROR_CODES).find(([, spec]) => spec.wire === wire)?.[0] ?? `0x${wire.toString(16)}`;
}

/** What became of one operation: done, or refused with a code (and the detail, to check it for paths). */
type Result = { ok: true } | { ok: false; code: string; detail: string; ref: number };

/** An allowed client that speaks raw messages, so nothing on the client side filters the names. */
class RawClient {
  readonly #channel: SecureChannel;
  #ref = 0;

  private constructor(channel: SecureChannel) {
    this.#channel = channel;
  }

  static async connect(
    to: { port: number; identity: KeyPair } = { port: 0, identity: clientIdentity },
  ): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port: to.port || server.address.port });
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    const channel = await clientHandshake(new FramedSocket(socket), {
      identity: to.identity,
      verifyServer: () => undefined,
    });
    assert.equal((await channel.receive()).type, 'WELCOME');
    return new RawClient(channel);
  }

  /** The next answer, skipping PROGRESS (the server may send it at any time, §5.7). */
  async #reply(): Promise<Message> {
    for (;;) {
      const message = await this.#channel.receive();
      if (message.type !== 'PROGRESS') return message;
    }
  }

  #refused(message: Message): Result {
    assert.equal(message.type, 'ERROR');
    if (message.type !== 'ERROR') throw new Error('unreachable');
    return { ok: false, code: codeName(message.code), detail: message.detail, ref: message.ref };
  }

  /** Uploads `content` to `path` (whole protocol: offer, data, chunk hashes, end). */
  async upload(path: string, content: Buffer, options: { overwrite?: boolean } = {}): Promise<Result> {
    const ref = ++this.#ref;
    await this.#channel.send({
      type: 'PUT_OFFER',
      ref,
      size: content.length,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: CHUNK_BYTES,
      mode: 0o644,
      overwrite: options.overwrite ?? false,
      fresh: false,
      path,
    });
    const answer = await this.#reply();
    if (answer.type !== 'PUT_ACCEPT') return this.#refused(answer);
    const hashes: Buffer[] = [];
    for (let offset = 0; offset < content.length; offset += CHUNK_BYTES) {
      const data = content.subarray(offset, offset + CHUNK_BYTES);
      hashes.push(chunkHashOf(data));
      await this.#channel.send({ type: 'PUT_DATA', ref, offset, data });
      await this.#channel.send({
        type: 'PUT_CHUNK',
        ref,
        index: offset / CHUNK_BYTES,
        chunkHash: hashes.at(-1)!,
      });
    }
    await this.#channel.send({
      type: 'PUT_END',
      ref,
      fileDigest: fileDigest(content.length, CHUNK_BYTES, hashes),
    });
    const done = await this.#reply();
    return done.type === 'PUT_DONE' ? { ok: true } : this.#refused(done);
  }

  /** Sends only the offer and returns the accept (for a swap between offer and end). */
  async offerOnly(path: string, content: Buffer): Promise<{ ref: number; finish: () => Promise<Result> }> {
    const ref = ++this.#ref;
    await this.#channel.send({
      type: 'PUT_OFFER',
      ref,
      size: content.length,
      mtimeMs: 0,
      chunkBytes: CHUNK_BYTES,
      mode: 0o644,
      overwrite: false,
      fresh: false,
      path,
    });
    const answer = await this.#reply();
    assert.equal(answer.type, 'PUT_ACCEPT');
    const finish = async (): Promise<Result> => {
      const hash = chunkHashOf(content);
      await this.#channel.send({ type: 'PUT_DATA', ref, offset: 0, data: content });
      await this.#channel.send({ type: 'PUT_CHUNK', ref, index: 0, chunkHash: hash });
      await this.#channel.send({
        type: 'PUT_END',
        ref,
        fileDigest: fileDigest(content.length, CHUNK_BYTES, [hash]),
      });
      const done = await this.#reply();
      return done.type === 'PUT_DONE' ? { ok: true } : this.#refused(done);
    };
    return { ref, finish };
  }

  /** Asks for a download and returns whether the server offered the file. */
  async get(path: string): Promise<Result> {
    const ref = ++this.#ref;
    await this.#channel.send({
      type: 'GET_REQUEST',
      ref,
      chunkBytes: CHUNK_BYTES,
      verifyOnly: false,
      heldSize: 0,
      haveDigest: Buffer.alloc(32),
      ranges: [],
      path,
    });
    const answer = await this.#reply();
    if (answer.type !== 'GET_OFFER') return this.#refused(answer);
    for (;;) {
      const next = await this.#reply();
      if (next.type === 'GET_END') return { ok: true };
    }
  }

  /** Makes a symbolic link (PUT_LINK, §5.10). */
  async putLink(path: string, target: string, options: { overwrite?: boolean } = {}): Promise<Result> {
    const ref = ++this.#ref;
    await this.#channel.send({
      type: 'PUT_LINK',
      ref,
      overwrite: options.overwrite ?? false,
      mtimeMs: 1_700_000_000_000,
      target,
      path,
    });
    const answer = await this.#reply();
    return answer.type === 'ACK' ? { ok: true } : this.#refused(answer);
  }

  /** Sends a hand-built plaintext (for what the encoder refuses) and returns the server's answer. */
  async raw(plaintext: Buffer): Promise<Message> {
    await this.#channel.sendPlaintext(plaintext);
    return this.#channel.receive();
  }

  close(): void {
    this.#channel.close();
  }
}

/** Asserts a refusal with `code`, for the operation's own ref, with no server path in the detail. */
function assertRefused(result: Result, code: ErrorCode, what: string): void {
  assert.equal(result.ok, false, `${what}: expected ${code}, but it was accepted`);
  if (result.ok) return;
  assert.equal(result.code, code, `${what}: expected ${code}, got ${result.code} (${result.detail})`);
  assert.notEqual(result.ref, 0, `${what}: the refusal belongs to the transfer, the session goes on`);
  for (const secret of [work, root, outside, '/tmp/'])
    assert.ok(!result.detail.includes(secret), `${what}: the detail "${result.detail}" shows a server path`);
}

/**
 * Every symbolic link under `top` that leads anywhere (the kernel resolves it) leads to `within` (default
 * `top`) or below it. Dangling links and loops lead nowhere and are harmless.
 */
async function assertNoLinkLeadsOut(top: string, what: string, within = top): Promise<void> {
  const realTop = await realpath(within);
  for (const entry of await readdir(top, { recursive: true, withFileTypes: true })) {
    if (!entry.isSymbolicLink()) continue;
    const path = join(entry.parentPath, entry.name);
    let resolved: string;
    try {
      resolved = await realpath(path);
    } catch {
      continue;
    }
    assert.ok(
      resolved === realTop || resolved.startsWith(`${realTop}/`),
      `${what}: ${path.slice(top.length)} -> ${await readlink(path)} leads to ${resolved}`,
    );
  }
}

async function assertStored(relative: string, content: Buffer, what: string): Promise<void> {
  const stats = await lstat(join(root, relative));
  assert.ok(stats.isFile(), `${what}: stored as a regular file`);
  assert.ok((await readFile(join(root, relative))).equals(content), `${what}: content`);
}

describe('upload into the server root', () => {
  test('names with `..`, absolute paths, backslashes, NUL, control characters, empty or dot components and the reserved `.ferry` are refused with PATH_INVALID', async () => {
    const client = await RawClient.connect();
    const before = await outsideRoot();
    const rootBefore = await snapshot(root);
    const names = [
      '..',
      '../x',
      '../../outside/victim.txt',
      'a/../../x',
      'a/..',
      '/etc/passwd',
      victim,
      '//x',
      'a\\..\\..\\x',
      '..\\x',
      'C:\\x',
      'nul\u0000byte',
      'nul/\u0000',
      'bell\u0007',
      'esc\u001b[2J',
      'new\nline',
      'cr\rx',
      'tab\tx',
      'del\u007f',
      'c1\u0085nel',
      'csi\u009b2J',
      'a//b',
      'a/',
      './a',
      'a/./b',
      '.',
      '.ferry',
      '.ferry/partial/x.part',
      '.FERRY/x',
      '.Ferry/partial',
    ];
    for (const name of names) {
      assertRefused(await client.upload(name, Buffer.from('payload')), 'PATH_INVALID', JSON.stringify(name));
    }
    client.close();
    assert.deepEqual(await outsideRoot(), before, 'nothing changed outside the root');
    assert.deepEqual(
      await snapshot(root, (k) => k.startsWith('.ferry/partial/')),
      rootBefore,
      'nothing created in the root',
    );
  });

  test('a 256-byte component is refused with PATH_INVALID; 255-byte components (ASCII and 2-byte UTF-8) are stored', async () => {
    const client = await RawClient.connect();
    const before = await outsideRoot();
    assertRefused(await client.upload('x'.repeat(256), Buffer.from('a')), 'PATH_INVALID', '256 ASCII bytes');
    assertRefused(
      await client.upload(`long/${'é'.repeat(128)}`, Buffer.from('a')),
      'PATH_INVALID',
      '256 bytes of é',
    );
    const ascii = 'y'.repeat(255);
    const twoByte = `${'é'.repeat(127)}z`; // 255 bytes
    for (const name of [ascii, `long/${twoByte}`]) {
      const content = Buffer.from(`content of ${name.length}`);
      assert.deepEqual(
        await client.upload(name, content),
        { ok: true },
        `${Buffer.byteLength(name)}-byte name`,
      );
      await assertStored(name, content, name.slice(0, 20));
    }
    client.close();
    assert.deepEqual(await outsideRoot(), before);
  });

  test('a 4097-byte path is refused at the wire: ERROR MESSAGE_MALFORMED for the session, and nothing is created', async () => {
    const client = await RawClient.connect();
    const before = await outsideRoot();
    const rootBefore = await snapshot(root, (k) => k.startsWith('.ferry/'));
    // The encoder refuses such a path, so the offer is built by hand from a valid one with a 1-byte path.
    const path = Buffer.from(`${'p/'.repeat(2048)}x`); // 4097 bytes
    const template = encodeMessage({
      type: 'PUT_OFFER',
      ref: 1,
      size: 1,
      mtimeMs: 0,
      chunkBytes: CHUNK_BYTES,
      mode: 0o644,
      overwrite: false,
      fresh: false,
      path: 'x',
    });
    const head = template.subarray(0, template.length - 3); // everything before `str path`
    const length = Buffer.alloc(2);
    length.writeUInt16BE(path.length);
    const answer = await client.raw(Buffer.concat([head, length, path]));
    assert.equal(answer.type, 'ERROR');
    if (answer.type === 'ERROR') {
      assert.equal(codeName(answer.code), 'MESSAGE_MALFORMED');
      assert.equal(answer.ref, 0, 'a malformed message ends the session');
      assert.ok(!answer.detail.includes(work));
    }
    client.close();
    assert.deepEqual(await outsideRoot(), before);
    assert.deepEqual(await snapshot(root, (k) => k.startsWith('.ferry/')), rootBefore);
  });

  test('a 4096-byte path (16 components of 255 bytes) is stored, or refused per transfer with a path code, never a dropped session', async () => {
    const client = await RawClient.connect();
    const before = await outsideRoot();
    const components = Array.from({ length: 16 }, (_, i) => String.fromCharCode(97 + i).repeat(255));
    const path = `${components.join('/').slice(0, 4096 - 2)}/z`;
    assert.equal(Buffer.byteLength(path), 4096);
    const result = await client.upload(path, Buffer.from('deep'));
    if (!result.ok) assertRefused(result, 'PATH_INVALID', '4096-byte path');
    // The session survived: the next upload works.
    assert.deepEqual(await client.upload('after-long-path', Buffer.from('ok')), { ok: true });
    client.close();
    assert.deepEqual(await outsideRoot(), before);
  });

  test('Windows device names are ordinary names on a POSIX server: stored verbatim, each its own file', async () => {
    const client = await RawClient.connect();
    const before = await outsideRoot();
    const names = [
      'CON',
      'NUL',
      'COM1',
      'LPT1',
      'AUX',
      'PRN',
      'con',
      'nul.txt',
      'COM1.log',
      'LPT9.tar.gz',
      'CLOCK$',
      'dev/CON/x',
      'trailing.',
      'trailing ',
    ];
    for (const name of names) {
      const content = Buffer.from(`device name ${name}`);
      assert.deepEqual(await client.upload(`devices/${name}`, content), { ok: true }, name);
    }
    for (const name of names) await assertStored(`devices/${name}`, Buffer.from(`device name ${name}`), name);
    client.close();
    assert.deepEqual(await outsideRoot(), before);
  });

  test('NFC and NFD spellings, `A` and `a`, and look-alike dots are distinct files: none collides with or overwrites another', async () => {
    const client = await RawClient.connect();
    const before = await outsideRoot();
    const names = [
      'unicode/caf\u00e9', // NFC
      'unicode/cafe\u0301', // NFD of the same name
      'unicode/A',
      'unicode/a',
      'unicode/\u212b', // ANGSTROM SIGN, NFC-normalises to U+00C5
      'unicode/\u00c5',
      'unicode/\ufb01le', // ﬁ ligature (NFKC: "file")
      'unicode/file',
      'unicode/\uff0e\uff0e', // fullwidth "..": an ordinary name, not a parent step
      'unicode/\u2024\u2024', // one-dot leaders
      'unicode/a\u2215b', // division slash: not a separator
      'unicode/rtl\u202eexe.txt', // right-to-left override: legal, stored verbatim
    ];
    assert.notEqual('caf\u00e9', 'cafe\u0301'.normalize('NFC').normalize('NFD'));
    for (const [i, name] of names.entries()) {
      assert.deepEqual(
        await client.upload(name, Buffer.from(`file ${i}`)),
        { ok: true },
        JSON.stringify(name),
      );
    }
    // Each landed under its own bytes with its own content: no later upload replaced an earlier one.
    for (const [i, name] of names.entries())
      await assertStored(name, Buffer.from(`file ${i}`), JSON.stringify(name));
    assert.equal((await readdir(join(root, 'unicode'))).length, names.length);
    // Without OVERWRITE, the other spelling does not count as "existing": the exact bytes do.
    assertRefused(
      await client.upload('unicode/cafe\u0301', Buffer.from('other size')),
      'FILE_EXISTS',
      'same NFD name again',
    );
    client.close();
    assert.deepEqual(await outsideRoot(), before);
  });

  test('links planted in the root are never written through: a directory link, a file link, a link to a link, a dangling link', async () => {
    await mkdir(join(root, 'links', 'real'), { recursive: true });
    await symlink(outside, join(root, 'links', 'dir-link'));
    await symlink(victim, join(root, 'links', 'file-link'));
    await symlink('dir-link', join(root, 'links', 'link-to-link'));
    await symlink(join(outside, 'created-through-link'), join(root, 'links', 'dangling'));
    await symlink('../../../outside', join(root, 'links', 'real', 'relative-link'));
    const client = await RawClient.connect();
    const before = await outsideRoot();
    const cases: Array<[string, boolean]> = [
      ['links/dir-link/x', false],
      ['links/dir-link/sub/x', false],
      ['links/dir-link/victim.txt', true],
      ['links/file-link', false],
      ['links/file-link', true],
      ['links/link-to-link/x', false],
      ['links/link-to-link/victim.txt', true],
      ['links/dangling', false],
      ['links/dangling', true],
      ['links/real/relative-link/x', true],
    ];
    for (const [path, overwrite] of cases) {
      assertRefused(
        await client.upload(path, Buffer.from('written through a link')),
        'PATH_ESCAPES_ROOT',
        `${path}${overwrite ? ' (overwrite)' : ''}`,
      );
    }
    client.close();
    assert.deepEqual(await outsideRoot(), before, 'nothing changed outside the root');
    assert.equal(await readFile(victim, 'utf8'), 'original victim content\n');
    await assert.rejects(lstat(join(outside, 'created-through-link')), { code: 'ENOENT' });
  });

  test('a directory swapped for a link between two transfers of one session is refused with PATH_ESCAPES_ROOT', async () => {
    const client = await RawClient.connect();
    assert.deepEqual(await client.upload('swap/one', Buffer.from('first')), { ok: true });
    const before = await outsideRoot();
    // A local user replaces the directory with a link between the two transfers.
    await rename(join(root, 'swap'), join(work, 'swapped-away'));
    await symlink(outside, join(root, 'swap'));
    const after1 = await outsideRoot();
    assertRefused(await client.upload('swap/two', Buffer.from('second')), 'PATH_ESCAPES_ROOT', 'swap/two');
    assertRefused(
      await client.upload('swap/victim.txt', Buffer.from('second'), { overwrite: true }),
      'PATH_ESCAPES_ROOT',
      'swap/victim.txt',
    );
    client.close();
    assert.deepEqual(await outsideRoot(), after1, 'nothing written through the swapped link');
    assert.equal(await readFile(victim, 'utf8'), 'original victim content\n');
    assert.ok(Object.keys(before).length > 0);
    await rm(join(root, 'swap'));
  });

  test('a directory swapped for a link after the offer and before PUT_END is not written through', async () => {
    const client = await RawClient.connect();
    await mkdir(join(root, 'race'), { recursive: true });
    const pending = await client.offerOnly('race/late.txt', Buffer.from('late'));
    await rename(join(root, 'race'), join(work, 'race-away'));
    await symlink(outside, join(root, 'race'));
    const before = await outsideRoot();
    const result = await pending.finish();
    client.close();
    try {
      assert.deepEqual(await outsideRoot(), before, 'nothing written through the swapped link');
      assertRefused(result, 'PATH_ESCAPES_ROOT', 'race/late.txt');
    } finally {
      await rm(join(outside, 'late.txt'), { force: true });
      await rm(join(root, 'race'));
    }
  });
});

describe('download', () => {
  test('the server never reads through links in its root: file link, directory link, link to a link', async () => {
    await mkdir(join(outside, 'secret-dir'), { recursive: true });
    await writeFile(join(outside, 'secret-dir', 'secret.txt'), 'secret\n');
    await mkdir(join(root, 'dl-links'), { recursive: true });
    await symlink(victim, join(root, 'dl-links', 'file-link'));
    await symlink(join(outside, 'secret-dir'), join(root, 'dl-links', 'dir-link'));
    await symlink('dir-link', join(root, 'dl-links', 'link-to-link'));
    const client = await RawClient.connect();
    assertRefused(await client.get('dl-links/file-link'), 'PATH_ESCAPES_ROOT', 'file link');
    assertRefused(await client.get('dl-links/dir-link/secret.txt'), 'PATH_ESCAPES_ROOT', 'directory link');
    assertRefused(
      await client.get('dl-links/link-to-link/secret.txt'),
      'PATH_ESCAPES_ROOT',
      'link to a link',
    );
    assertRefused(await client.get('dl-links/missing'), 'PATH_NOT_FOUND', 'missing file');
    assertRefused(await client.get('../outside/victim.txt'), 'PATH_INVALID', 'parent step');
    client.close();
  });

  test('getFiles -r brings device names, NFC/NFD, case pairs and 243-byte names as distinct files; names §7.1 cannot carry are skipped', async () => {
    const tree = join(root, 'dl-tree');
    // 243 bytes: the longest name whose partial `.NAME.ferry-state` still fits 255 bytes (see the todo below).
    const names = [
      'CON',
      'nul.txt',
      'COM1.log',
      'caf\u00e9',
      'cafe\u0301',
      'A',
      'a',
      'z'.repeat(243),
      '\uff0e\uff0e',
      'rtl\u202etxt.exe',
    ];
    await mkdir(join(tree, 'sub'), { recursive: true });
    for (const [i, name] of names.entries()) await writeFile(join(tree, 'sub', name), `file ${i}`);
    // Legal on Linux, unrepresentable as a remote path: the listing leaves them out.
    for (const name of ['back\\slash', 'ctl\u0001', 'new\nline', 'del\u007f', 'c1\u0085nel'])
      await writeFile(join(tree, name), 'skip me');
    const dest = join(work, 'dl-dest');
    const before = await snapshot(
      work,
      (k) => k === 'dl-dest' || k.startsWith('dl-dest/') || k.startsWith('srv/'),
    );
    await getFiles({
      server: server.address,
      identity: clientIdentity,
      verifyServer: () => undefined,
      retry: { retries: 0 },
      remotePaths: ['dl-tree'],
      localDir: dest,
      recursive: true,
      chunkBytes: CHUNK_BYTES,
    });
    for (const [i, name] of names.entries()) {
      assert.equal(
        await readFile(join(dest, 'dl-tree', 'sub', name), 'utf8'),
        `file ${i}`,
        JSON.stringify(name),
      );
    }
    assert.deepEqual((await readdir(join(dest, 'dl-tree'))).sort(), ['sub']);
    assert.equal((await readdir(join(dest, 'dl-tree', 'sub'))).length, names.length);
    assert.deepEqual(
      await snapshot(work, (k) => k === 'dl-dest' || k.startsWith('dl-dest/') || k.startsWith('srv/')),
      before,
      'nothing changed outside the destination',
    );
  });

  test('a file with a 255-byte name (valid by §7.1, and uploadable) can be downloaded', async () => {
    const name = 'w'.repeat(255);
    await mkdir(join(root, 'dl-long'), { recursive: true });
    await writeFile(join(root, 'dl-long', name), 'long name');
    const dest = join(work, 'dl-long-dest');
    await getFiles({
      server: server.address,
      identity: clientIdentity,
      verifyServer: () => undefined,
      retry: { retries: 0 },
      remotePaths: [`dl-long/${name}`],
      localDir: dest,
      chunkBytes: CHUNK_BYTES,
    });
    assert.equal(await readFile(join(dest, name), 'utf8'), 'long name');
  });

  test('links planted in the local destination are never written through, with or without overwrite', async () => {
    await mkdir(join(root, 'dl-planted', 'sub'), { recursive: true });
    await writeFile(join(root, 'dl-planted', 'victim.txt'), 'from the server\n');
    await writeFile(join(root, 'dl-planted', 'sub', 'x.txt'), 'from the server\n');
    const dest = join(work, 'dl-planted-dest');
    await mkdir(join(dest, 'dl-planted'), { recursive: true });
    await symlink(victim, join(dest, 'dl-planted', 'victim.txt'));
    await symlink(join(outside, 'sub'), join(dest, 'dl-planted', 'sub'));
    const before = await snapshot(work, (k) => k.startsWith('srv/'));
    for (const overwrite of [false, true]) {
      for (const remotePaths of [['dl-planted'], ['dl-planted/victim.txt']]) {
        const recursive = remotePaths[0] === 'dl-planted';
        const err = await getFiles({
          server: server.address,
          identity: clientIdentity,
          verifyServer: () => undefined,
          retry: { retries: 0 },
          remotePaths,
          // A single file lands directly in localDir: point it at the directory holding the planted link.
          localDir: recursive ? dest : join(dest, 'dl-planted'),
          recursive,
          overwrite,
          chunkBytes: CHUNK_BYTES,
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        const what = `${remotePaths.join(',')} overwrite=${overwrite}`;
        assert.equal((err as { code?: string } | undefined)?.code, 'PATH_ESCAPES_ROOT', what);
        assert.deepEqual(
          await snapshot(work, (k) => k.startsWith('srv/')),
          before,
          `nothing changed: ${what}`,
        );
      }
    }
    assert.equal(await readFile(victim, 'utf8'), 'original victim content\n');
    assert.deepEqual(await readdir(join(outside, 'sub')), []);
  });
});

describe('link chains', () => {
  test('PUT_LINK refuses chains (y -> .., u1 -> y/.., ...) and links through links with PATH_ESCAPES_ROOT, in any order, and links made after the check never lead out', async () => {
    const client = await RawClient.connect();
    const before = await outsideRoot();
    // Reversed order first: u1 names `y` before it exists, so `y/..` climbs out of a missing name.
    assertRefused(await client.putLink('chain/a/b/u1', 'y/..'), 'PATH_ESCAPES_ROOT', 'u1 before y');
    assert.deepEqual(await client.putLink('chain/a/b/y', '..'), { ok: true });
    for (const [path, target] of [
      ['chain/a/b/u1', 'y/..'],
      ['chain/a/b/u1', 'y/../..'],
      ['chain/a/b/m', 'y/b/y/b/y/../../../..'],
    ])
      assertRefused(await client.putLink(path!, target!), 'PATH_ESCAPES_ROOT', `${path} -> ${target}`);
    // Links to links: each step is checked where it leads now.
    assert.deepEqual(await client.putLink('chain/a/b/n', 'y/b'), { ok: true });
    assertRefused(await client.putLink('chain/a/b/o', 'n/y/../../../..'), 'PATH_ESCAPES_ROOT', 'o via n');
    // Made after the check: `later` is missing when `l` is made, then becomes a link; `l` only descends
    // through it, so wherever `later` leads (it is itself checked), `l` follows inside.
    assert.deepEqual(await client.putLink('chain/a/l', 'later/victim.txt'), { ok: true });
    assertRefused(
      await client.putLink('chain/a/later', '../../../outside'),
      'PATH_ESCAPES_ROOT',
      'later out',
    );
    assert.deepEqual(await client.putLink('chain/a/later', '..'), { ok: true });
    // Replacing a link (OVERWRITE) is checked the same way, and cannot carry older links out with it.
    assertRefused(
      await client.putLink('chain/a/b/y', '../../../..', { overwrite: true }),
      'PATH_ESCAPES_ROOT',
      'y replaced',
    );
    assert.deepEqual(await client.putLink('chain/a/b/y', '../..', { overwrite: true }), { ok: true });
    client.close();
    assert.deepEqual(await outsideRoot(), before, 'nothing changed outside the root');
    assert.equal(await readFile(victim, 'utf8'), 'original victim content\n');
    // Earlier tests planted links to the outside elsewhere in the root on purpose; these are ours.
    await assertNoLinkLeadsOut(join(root, 'chain'), 'server root', root);
  });

  test('a --root client uploading a tree of link chains with send -r, then fetched by another client with get -r: no link leads out on either side', async (t) => {
    const confined = generateKeyPair();
    const reader = generateKeyPair();
    const srvRoot = join(work, 'confined-srv');
    const confinedServer = await FerryServer.start({
      root: srvRoot,
      port: 0,
      identity: generateKeyPair(),
      authorize: (key) =>
        key.equals(confined.publicKey)
          ? { permissions: PERMISSION_UPLOAD, root: 'drop' }
          : key.equals(reader.publicKey)
            ? { permissions: PERMISSION_DOWNLOAD }
            : undefined,
      partialSweepIntervalMs: 0,
    });
    t.after(() => confinedServer.close());
    // The uploader's own tree holds the chain (made locally with symlink(2), as an attacker would).
    const local = join(work, 'confined-local', 'tree');
    await mkdir(join(local, 'a', 'b'), { recursive: true });
    await writeFile(join(local, 'a', 'file.txt'), 'inside\n');
    await symlink('..', join(local, 'a', 'b', 'y'));
    await symlink('y/..', join(local, 'a', 'b', 'u1'));
    await symlink('u1/..', join(local, 'a', 'b', 'u2'));
    await symlink('u2/..', join(local, 'a', 'b', 'u3'));
    await symlink('u3/outside/victim.txt', join(local, 'a', 'b', 'passwd'));
    await symlink('passwd', join(local, 'a', 'b', 'to-passwd'));
    await symlink('y/file.txt', join(local, 'a', 'b', 'fine'));
    const skipped: string[] = [];
    await sendTree({
      server: confinedServer.address,
      identity: confined,
      verifyServer: () => undefined,
      retry: { retries: 0 },
      dirs: [local],
      chunkBytes: CHUNK_BYTES,
      onSkip: (relative) => skipped.push(relative),
    });
    assert.deepEqual(
      skipped.sort(),
      ['passwd', 'to-passwd', 'u1', 'u2', 'u3'].map((name) => `tree/a/b/${name}`),
    );
    // And sent raw, so nothing on the client filters: the server refuses the same links itself.
    const raw = await RawClient.connect({ port: confinedServer.address.port, identity: confined });
    assertRefused(await raw.putLink('tree/a/b/u1', 'y/..'), 'PATH_ESCAPES_ROOT', 'raw u1');
    assertRefused(await raw.putLink('tree/a/b/evil', 'y/../../../../..'), 'PATH_ESCAPES_ROOT', 'raw evil');
    raw.close();
    await assertNoLinkLeadsOut(join(srvRoot, 'drop'), 'the confined root');

    const dest = join(work, 'confined-dest');
    const before = await snapshot(work, (k) => k.startsWith('confined-'));
    await getFiles({
      server: confinedServer.address,
      identity: reader,
      verifyServer: () => undefined,
      retry: { retries: 0 },
      remotePaths: ['drop/tree'],
      localDir: dest,
      recursive: true,
      chunkBytes: CHUNK_BYTES,
    });
    assert.equal(await readlink(join(dest, 'tree', 'a', 'b', 'fine')), 'y/file.txt');
    assert.equal(await readFile(join(dest, 'tree', 'a', 'b', 'fine'), 'utf8'), 'inside\n');
    await assertNoLinkLeadsOut(join(dest, 'tree'), 'the download');
    assert.deepEqual(
      await snapshot(work, (k) => k.startsWith('confined-')),
      before,
      'nothing changed outside',
    );
    assert.equal(await readFile(victim, 'utf8'), 'original victim content\n');
  });
});
