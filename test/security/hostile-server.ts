// A hostile ferry server for the client-side attacks of test/security: a real Noise handshake (its own test
// key) on loopback, a WELCOME, then answers of its choosing: a recursive listing of any entries (names the
// client must validate, kinds that clash with the destination), files served with planted content, GET
// (one by one or batched) refused with an ERROR detail of its choosing. It records what the client asked for.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { SecureChannel } from '../../src/channel/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import {
  DEFAULT_CHUNK_BYTES,
  chunkHashOf,
  fileDigest,
  smallFileDigest,
  type ListEntry,
  type Message,
} from '../../src/protocol/index.js';
import { syncTree, type SyncTreeOptions } from '../../src/client/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { runFerry } from '../helpers/cli.js';
import { FakeFerryServer } from '../helpers/fake-ferry-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** A hostile server and a client home to run the CLI against it, removed after the test. */
export interface HostileRig {
  work: string;
  home: string;
  hostile: HostileServer;
  /** `--home HOME --expect ID --retries 0`, for every command. */
  common: string[];
  /** `host:port` of the hostile server. */
  target: string;
}

/** Starts a hostile server and makes a client home (`ferry keygen`) in a fresh directory named `prefix...`. */
export async function startHostileRig(t: TestContext, prefix: string): Promise<HostileRig> {
  const work = await makeTempDir(prefix);
  const hostile = await HostileServer.start();
  t.after(async () => {
    await hostile.close();
    await removeTempDir(work);
  });
  const home = join(work, 'home');
  assert.equal((await runFerry(['--home', home, 'keygen'])).code, 0);
  const { host, port } = hostile.address;
  return {
    work,
    home,
    hostile,
    common: ['--home', home, '--expect', hostile.id, '--retries', '0'],
    target: `${host}:${port}`,
  };
}

/** What the server answers. */
export interface HostileScript {
  /** Entries of every recursive listing, relative to the listed path. */
  entries: ListEntry[];
  /** Refuse every GET_REQUEST with this ERROR. */
  getError?: { code: keyof typeof ERROR_CODES; detail: string };
  /** Drop the connection at the first GET_REQUEST or GET_BATCH: the run fails before any file arrives. */
  dropOnGet?: boolean;
  /** Refuse every upload (PUT_OFFER, and a batch at its BATCH_END) with this ERROR. */
  putError?: { code: keyof typeof ERROR_CODES; detail: string };
  /** The mtime every file is served with (GET_OFFER, GET_BATCH_DATA); default 0. */
  servedMtimeMs?: number;
}

export class HostileServer extends FakeFerryServer {
  script: HostileScript = { entries: [] };

  static async start(): Promise<HostileServer> {
    const hostile = new HostileServer();
    await hostile.listen();
    return hostile;
  }

  /** The remote paths of every GET_REQUEST so far. */
  get requestedPaths(): string[] {
    return this.received.flatMap((m) => (m.type === 'GET_REQUEST' ? [m.path] : []));
  }

  protected override async answer(channel: SecureChannel, message: Message, socket: Socket): Promise<void> {
    if (this.script.dropOnGet && (message.type === 'GET_REQUEST' || message.type === 'GET_BATCH')) {
      socket.destroy();
      return;
    }
    if (message.type === 'LIST_REQUEST') {
      const self = message.selfOnly ?? false;
      const { entries } = this.script;
      if (!self && entries.length > 0)
        await channel.send({ type: 'LIST_ENTRIES', ref: message.ref, entries });
      await channel.send({
        type: 'LIST_END',
        ref: message.ref,
        totalEntries: self ? 0 : entries.length,
        isFile: false,
        mode: 0o755,
        mtimeMs: 1_700_000_000_000,
      });
      return;
    }
    if (
      message.type === 'REMOVE_REQUEST' ||
      message.type === 'SET_ATTRIBUTES' ||
      message.type === 'PUT_DIR'
    ) {
      await channel.send({ type: 'ACK', ref: message.ref });
      return;
    }
    const { getError, putError } = this.script;
    if (putError && (message.type === 'PUT_OFFER' || message.type === 'BATCH_END')) {
      const code = ERROR_CODES[putError.code].wire!;
      await channel.send({ type: 'ERROR', ref: message.ref, code, detail: putError.detail });
      return;
    }
    if (message.type === 'GET_BATCH') {
      // Batched small files (PROTOCOL.md §5.20): planted content for each path asked, in order; with
      // `getError`, every entry refused, so the client asks again by GET_REQUEST and meets the ERROR.
      const entries = message.paths.map((path) => {
        if (getError) return { status: 'refused' as const, code: ERROR_CODES[getError.code].wire! };
        const data = plantedContent(path);
        return {
          status: 'file' as const,
          mtimeMs: this.script.servedMtimeMs ?? 0,
          mode: 0o644,
          fileDigest: smallFileDigest(data, DEFAULT_CHUNK_BYTES),
          data,
        };
      });
      await channel.send({ type: 'GET_BATCH_DATA', ref: message.ref, entries });
      return;
    }
    if (message.type !== 'GET_REQUEST') return;
    const { ref, chunkBytes } = message;
    if (getError) {
      await channel.send({
        type: 'ERROR',
        ref,
        code: ERROR_CODES[getError.code].wire!,
        detail: getError.detail,
      });
      return;
    }
    const data = plantedContent(message.path);
    await channel.send({
      type: 'GET_OFFER',
      ref,
      size: data.length,
      mtimeMs: this.script.servedMtimeMs ?? 0,
      mode: 0o644,
      heldAccepted: false,
    });
    const hashes: Buffer[] = [];
    for (let offset = 0; offset < data.length; offset += chunkBytes) {
      const chunk = data.subarray(offset, offset + chunkBytes);
      hashes.push(chunkHashOf(chunk));
      await channel.send({ type: 'GET_DATA', ref, offset, data: chunk });
      await channel.send({ type: 'GET_CHUNK', ref, index: hashes.length - 1, chunkHash: hashes.at(-1)! });
    }
    await channel.send({ type: 'GET_END', ref, fileDigest: fileDigest(data.length, chunkBytes, hashes) });
  }
}

/** What the hostile server serves as the file at `path`. */
function plantedContent(path: string): Buffer {
  return Buffer.from(`planted by a hostile server as ${path}\n`);
}

export function file(path: string, size = 10): ListEntry {
  return { kind: 'file', mode: 0o644, size, mtimeMs: 1_700_000_000_000, path, linkTarget: '' };
}

export function dir(path: string): ListEntry {
  return { kind: 'dir', mode: 0o755, size: 0, mtimeMs: 1_700_000_000_000, path, linkTarget: '' };
}

export function link(path: string, linkTarget: string): ListEntry {
  return { kind: 'link', mode: 0o777, size: 0, mtimeMs: 1_700_000_000_000, path, linkTarget };
}

/** Ends `ref` with an ERROR of the server's choosing (QUOTA_EXCEEDED): a request the script does not serve. */
export async function refuseRef(channel: SecureChannel, ref: number, detail: string): Promise<void> {
  await channel.send({ type: 'ERROR', ref, code: ERROR_CODES.QUOTA_EXCEEDED.wire, detail });
}

/**
 * A hostile server with a local accomplice on the client's machine: the subclass runs `swap` (the
 * accomplice's move on the client's files) at the moment its answers choose, so a race is won without waiting.
 */
export abstract class SwappingServer extends FakeFerryServer {
  swap: () => void = () => undefined;

  static async start<T extends SwappingServer>(this: new () => T): Promise<T> {
    const server = new this();
    await server.listen();
    return server;
  }
}

/**
 * `syncTree` of the hostile server's `tree` onto `localDir` (a fresh identity, no retry), settled: resolves
 * with its error, or undefined when it succeeded. `options`: `delete`, `exclude`, `chunkBytes`, ...
 */
export function syncDownFrom(
  hostile: HostileServer,
  localDir: string,
  options: Partial<SyncTreeOptions> = {},
): Promise<unknown> {
  return syncTree({
    server: hostile.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    direction: 'download',
    localDir,
    remotePath: 'tree',
    ...options,
  }).then(
    () => undefined,
    (err: unknown) => err,
  );
}
