// The pipeline alone (issue 14 item 4): one side's work of a transfer in this one process, without a socket
// or a peer, so its CPU cost and its scaling with threads can be read even where a loopback run would share
// the cores between both ends. Every step is ferry's own code: `streamChunks` (read, hash, seal) on the
// sending side; `FramedSocket` + `SecureChannel` (frame, open, decode) and `PartialTransfer` over a
// `FilePartialStore` (hash, verify, write, make durable) on the receiving side. Beside them the floor: what
// the machine spends in-process on the unavoidable work, AES-256-GCM sealing in full records plus SHA-256.
import { createCipheriv, createHash, createSecretKey, randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import { FramedSocket, SecureChannel } from '../../src/channel/index.js';
import { CipherState, SessionCipher } from '../../src/crypto/index.js';
import {
  ChunkHashes,
  DEFAULT_CHUNK_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PUT_DATA_BYTES,
  PUT_DATA_HEADER_BYTES,
  chunkCount,
  chunkHashOf,
  chunkLength,
  encodeMessage,
  writeFrameHeader,
  writePutDataHeader,
} from '../../src/protocol/index.js';
import { FilePartialStore, PartialTransfer, SourceFile, streamChunks } from '../../src/transfer/index.js';
import { SealPool } from '../../src/transfer/pipeline/seal-pool.js';
import { streamChunksPooled } from '../../src/transfer/pipeline/stream-chunks-pooled.js';
import { findLibuvThreads, threadCpuBetween, threadCpuSeconds, type ThreadCpu } from './thread-cpu.js';

const GIB = 2 ** 30;
/** Bytes of randomness the floor and the source file are made of (repeated). */
const PASS_BYTES = 64 * 2 ** 20;
/**
 * The receiving side replays one sealed image of this many bytes: a fresh partial (a file of this size) and
 * cipher per pass. Each pass ends as a real file does (its last chunks made durable, the partial closed) and
 * the next starts as one (a partial created and opened, the pool's blocks ramping up from none): with 64 MiB
 * passes that was 16 ends of a file per GiB, where a real 1 GiB upload has one, and both workers idled
 * through each (under load: 40-120 ms per pass, 22-35 % of the 2-thread run's wall time; 19 % of it with no
 * block at a worker, under 1 % with 256 MiB passes). Four per GiB still costs more than the real path.
 */
const RECEIVE_PASS_BYTES = 256 * 2 ** 20;
/** Bytes per simulated socket read on the receiving side (what Node's TCP reads deliver). */
const READ_BYTES = 64 * 1024;

/**
 * One measured step: CPU seconds (user + system, every thread of this process), wall time, and the CPU of
 * each kind of thread (the main thread's is the pipeline's critical path once workers take the rest).
 */
export interface PipelineMeasure {
  cpuSeconds: number;
  wallMs: number;
  threads: ThreadCpu;
  /**
   * Share of the wall time each event loop was busy (event loop utilization): the main thread's, and each
   * worker's (empty at 1 thread). A worker's idle share is time it waited for a block: where the pool idles.
   */
  busy: { main: number; workers: number[] };
}

async function measured(
  run: () => Promise<void> | void,
  workers: ReadonlySet<number> = new Set(),
  pool?: SealPool,
): Promise<PipelineMeasure> {
  const libuv = await findLibuvThreads();
  const threads0 = threadCpuSeconds();
  const cpu0 = process.cpuUsage();
  const main0 = performance.eventLoopUtilization();
  const pool0 = pool?.utilization() ?? [];
  const t0 = performance.now();
  await run();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const threads = threadCpuBetween(threads0, threadCpuSeconds(), workers, libuv);
  const main = performance.eventLoopUtilization(main0).utilization;
  const pool1 = pool?.utilization() ?? [];
  const busy = {
    main,
    workers: pool1.map((after, i) => performance.eventLoopUtilization(after, pool0[i]).utilization),
  };
  return { cpuSeconds: (cpu.user + cpu.system) / 1e6, wallMs, threads, busy };
}

/** Starts a pool of `threads` workers and waits for it; also returns its workers' thread ids. */
async function startedPool(threads: number): Promise<{ pool: SealPool; workers: Set<number> }> {
  const before = threadCpuSeconds();
  const pool = new SealPool(threads);
  await pool.ready(); // a long-lived server starts its pool once: its start-up is not per GiB
  const workers = new Set<number>();
  for (const tid of threadCpuSeconds().keys()) if (!before.has(tid)) workers.add(tid);
  return { pool, workers };
}

function keyedCipher(key: Buffer): SessionCipher {
  const send = new CipherState();
  const receive = new CipherState();
  send.initializeKey(key);
  receive.initializeKey(key);
  return new SessionCipher(send, receive);
}

/**
 * The in-process floor on one core: AES-256-GCM over `bytes` in full records (one cipher object per record,
 * as the protocol's per-record nonce requires) and SHA-256 over the same bytes.
 */
export async function measureFloor(bytes: number): Promise<{ seal: PipelineMeasure; hash: PipelineMeasure }> {
  const block = randomBytes(PASS_BYTES);
  const key = createSecretKey(randomBytes(32));
  const nonce = Buffer.alloc(12);
  const seal = await measured(() => {
    let n = 0;
    for (let done = 0; done < bytes;) {
      for (let at = 0; at < block.length && done < bytes; at += MAX_MESSAGE_BYTES) {
        const piece = block.subarray(at, Math.min(at + MAX_MESSAGE_BYTES, block.length, at + bytes - done));
        nonce.writeUInt32BE(n++, 8);
        const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
        cipher.update(piece);
        cipher.final();
        cipher.getAuthTag();
        done += piece.length;
      }
    }
  });
  const hash = await measured(() => {
    const h = createHash('sha256');
    for (let done = 0; done < bytes; done += block.length)
      h.update(block.subarray(0, Math.min(block.length, bytes - done)));
    h.digest();
  });
  return { seal, hash };
}

/** Writes `bytes` of random data to `path` (64 MiB of randomness repeated), for the sending side to read. */
export async function writeSourceFile(path: string, bytes: number): Promise<void> {
  const block = randomBytes(Math.min(PASS_BYTES, bytes));
  const handle = await open(path, 'w');
  try {
    for (let at = 0; at < bytes; at += block.length) {
      await handle.write(block, 0, Math.min(block.length, bytes - at), at);
    }
  } finally {
    await handle.close();
  }
}

/**
 * The sending side: read `path`, hash every chunk, seal every PUT_DATA record, discard the records. One
 * thread is today's path (`streamChunks`, all on the event loop); more is `streamChunksPooled` on a
 * `SealPool` of that many workers (the event loop then only reads, assigns nonces and "writes").
 */
export async function measureSend(path: string, threads: number): Promise<PipelineMeasure> {
  const source = await SourceFile.open(path);
  const cipher = keyedCipher(randomBytes(32));
  try {
    const hashes = new ChunkHashes(source.size, DEFAULT_CHUNK_BYTES);
    const header = Buffer.alloc(2);
    const chunks = (): Iterator<number> =>
      Array.from({ length: chunkCount(source.size, DEFAULT_CHUNK_BYTES) }, (_, i) => i).values();
    if (threads > 1) {
      const { pool, workers } = await startedPool(threads);
      try {
        return await measured(
          async () => {
            await streamChunksPooled(source, {
              chunkBytes: DEFAULT_CHUNK_BYTES,
              chunks: chunks(),
              hashes,
              sink: {
                pool,
                headerBytes: PUT_DATA_HEADER_BYTES,
                writeDataHeader: (target, fileOffset) => writePutDataHeader(target, 0, 1, fileOffset),
                reserve: (count) => cipher.reserveSend(count),
                writeFramed: () => Promise.resolve(),
                chunkMessage: (index, chunkHash) =>
                  encodeMessage({ type: 'PUT_CHUNK', ref: 1, index, chunkHash }),
              },
            });
          },
          workers,
          pool,
        );
      } finally {
        await pool.close();
      }
    }
    return await measured(async () => {
      await streamChunks(source, {
        chunkBytes: DEFAULT_CHUNK_BYTES,
        chunks: chunks(),
        hashes,
        sink: {
          headerBytes: PUT_DATA_HEADER_BYTES,
          writeDataHeader: (target, fileOffset) => writePutDataHeader(target, 0, 1, fileOffset),
          sendData: (plaintext) => {
            const [body, tag] = cipher.sealParts(plaintext);
            writeFrameHeader(body.length + tag.length, header, 0);
            return Promise.resolve();
          },
          sendChunk: (index, chunkHash) => {
            cipher.sealParts(encodeMessage({ type: 'PUT_CHUNK', ref: 1, index, chunkHash }));
            return Promise.resolve();
          },
        },
      });
    });
  } finally {
    cipher.close();
    await source.close();
  }
}

/** One pass's wire bytes: PUT_DATA records and PUT_CHUNKs of a `passBytes` file, sealed from nonce 0. */
function sealedImage(key: Buffer, chunkBytes: number, passBytes: number): Buffer {
  const data = randomBytes(passBytes);
  const cipher = keyedCipher(key);
  const pieces: Buffer[] = [];
  const push = (plaintext: Buffer): void => {
    const [body, tag] = cipher.sealParts(plaintext);
    const header = Buffer.alloc(2);
    writeFrameHeader(body.length + tag.length, header, 0);
    pieces.push(header, body, tag);
  };
  for (let index = 0; index < chunkCount(passBytes, chunkBytes); index++) {
    const start = index * chunkBytes;
    const end = start + chunkLength(index, passBytes, chunkBytes);
    for (let at = start; at < end; at += MAX_PUT_DATA_BYTES) {
      const length = Math.min(MAX_PUT_DATA_BYTES, end - at);
      const plaintext = Buffer.alloc(PUT_DATA_HEADER_BYTES + length);
      writePutDataHeader(plaintext, 0, 1, at);
      data.copy(plaintext, PUT_DATA_HEADER_BYTES, at, at + length);
      push(plaintext);
    }
    const chunkHash = chunkHashOf(data.subarray(start, end));
    push(encodeMessage({ type: 'PUT_CHUNK', ref: 1, index, chunkHash }));
  }
  cipher.close();
  return Buffer.concat(pieces);
}

/**
 * The receiving side: sealed records arrive in socket-sized pieces and are framed, opened, decoded, hashed,
 * verified, written and made durable by ferry's receive path into a partial under `dir`, `bytes` in all
 * (the one sealed image replayed under a fresh cipher and partial per RECEIVE_PASS_BYTES, or per `bytes` if
 * less, so sealing is not counted).
 * More than one thread opens and hashes on a `SealPool` of that many workers (`SecureChannel.openInParallel`).
 */
export async function measureReceive(dir: string, bytes: number, threads = 1): Promise<PipelineMeasure> {
  const started = threads > 1 ? await startedPool(threads) : undefined;
  const pool = started?.pool;
  try {
    const key = randomBytes(32);
    const passBytes = Math.min(
      RECEIVE_PASS_BYTES,
      Math.max(DEFAULT_CHUNK_BYTES, bytes - (bytes % DEFAULT_CHUNK_BYTES)),
    );
    const image = sealedImage(key, DEFAULT_CHUNK_BYTES, passBytes);
    await mkdir(dir, { recursive: true });
    // One pass before the clock, at either thread count: a long-lived server's code (and its workers') is
    // compiled once, not per GiB.
    await receivePasses(dir, key, image, passBytes, 1, pool);
    return await measured(
      () => receivePasses(dir, key, image, passBytes, Math.max(1, Math.round(bytes / passBytes)), pool),
      started?.workers,
      pool,
    );
  } finally {
    await pool?.close();
  }
}

async function receivePasses(
  dir: string,
  key: Buffer,
  image: Buffer,
  passBytes: number,
  passes: number,
  pool: SealPool | undefined,
): Promise<void> {
  const chunkBytes = DEFAULT_CHUNK_BYTES;
  const lastChunk = chunkCount(passBytes, chunkBytes) - 1;
  const store = new FilePartialStore<number>({
    pathsOf: (pass) => ({ dataPath: join(dir, `${pass}.part`), logPath: join(dir, `${pass}.state`) }),
  });
  for (let pass = 0; pass < passes; pass++) {
    const wire = new PassThrough({ highWaterMark: 1024 * 1024 });
    const framed = new FramedSocket(wire as unknown as Socket);
    const channel = new SecureChannel(framed, keyedCipher(key), Buffer.alloc(32), Buffer.alloc(32));
    if (pool) channel.openInParallel(pool);
    const partial = await PartialTransfer.open(store, pass, {
      size: passBytes,
      mtimeMs: 0,
      chunkBytes,
      fresh: true,
    });
    const feeding = (async () => {
      for (let at = 0; at < image.length; at += READ_BYTES) {
        if (!wire.write(image.subarray(at, at + READ_BYTES))) await once(wire, 'drain');
      }
    })();
    for (;;) {
      const message = await channel.receive();
      if (message.type === 'PUT_DATA') await partial.writeData(message.offset, message.data);
      else if (message.type === 'PUT_CHUNK') {
        partial.completeChunk(message.index, message.chunkHash);
        if (message.index === lastChunk) break;
      } else throw new Error(`unexpected ${message.type}`);
    }
    await feeding;
    if (partial.verifiedBytes !== 0 && partial.verifiedBytes > passBytes) throw new Error('overcounted');
    await partial.discard();
    channel.close();
  }
}

/** Bytes per GiB helper for the JSON lines. */
export function perGiB(seconds: number, bytes: number): number {
  return Math.round((seconds / (bytes / GIB)) * 100) / 100;
}

/** Scratch directory for one run of the case, removed by the caller. */
export async function cleanScratch(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
