import { FerryError, isFerryError } from '../errors/index.js';
import {
  GET_DATA_HEADER_BYTES,
  LEAF_BYTES,
  PERMISSION_DOWNLOAD,
  encodeMessage,
  writeGetDataHeader,
  type GetRequestMessage,
} from '../protocol/index.js';
import { DownloadSenderMachine, type DownloadEffect } from '../machines/index.js';
import {
  SourceFile,
  resolveUnderRoot,
  signBlocks,
  signLeaves,
  streamChunks,
  type ChunkSource,
  type KnownLeafHashes,
  streamChunksPooled,
} from '../transfer/index.js';
import { deltaSigningBytes } from './delta-memory.js';
import { patchedSink } from './patched-sink.js';
import type { SessionIo } from './session-io.js';
import { StripeSentHashes } from './stripe-sent-hashes.js';
import { STORE_REQUESTS } from './store-heads.js';

/**
 * Serves one GET_REQUEST (PROTOCOL.md §5.11): checks the client's claimed chunks against the file, then
 * streams the rest and the file digest. The file is opened once, without following links, and checked for
 * changes before its digest is claimed. A STRIPED request (PROTOCOL.md §5.13.6) gets only its share of the
 * missing chunks. The rules are DownloadSenderMachine's; this is its driver. Returns the file bytes sent.
 */
export async function sendDownload(io: SessionIo, request: GetRequestMessage): Promise<number> {
  io.require(PERMISSION_DOWNLOAD, 'download');
  const objects = io.objectStore;
  let target: { path: string };
  let source: ChunkSource;
  if (objects) {
    // Issue 15: the file is an object, read with ranged GETs. Its key stands in for a path: the hash cache
    // never finds a file there, so an object's hashes are computed, never taken from the cache.
    const relative = io.rooted(request.path).join('/');
    target = { path: objects.targetOf(relative) };
    // Its HEAD is paid first: a request for nothing is a store request for a few bytes (STORE_REQUESTS).
    await io.ctx.storeHeads.spend(io.clientKey, STORE_REQUESTS.open, io.stopped);
    source = await objects.openSource(relative);
  } else {
    const resolved = await resolveUnderRoot(io.ctx.root, io.rooted(request.path), { createDirs: false });
    if (!resolved.exists) throw new FerryError('PATH_NOT_FOUND');
    target = resolved;
    source = await SourceFile.open(resolved.path, { noFollow: true, rooted: true });
  }
  /** A whole signing's leaf hashes and weak checksums, recorded once the file is found unchanged after it. */
  let toRecord: { store: KnownLeafHashes; identity: Buffer; weak: Uint32Array } | undefined;
  /** `toRecord` once the check after the signing found the file unchanged: recorded after GET_END. */
  let unchangedToRecord: typeof toRecord;
  /** The record into the store, if any: awaited before the file closes (nothing outlives the request). */
  let recording: Promise<void> = Promise.resolve();
  let stripeSent: StripeSentHashes | undefined;
  try {
    const machine = new DownloadSenderMachine(request, source, {
      fileDigest: (hashes) => io.ctx.hashCache.digests.digestOf(io.clientKey, hashes),
    });
    const { hashes } = machine;
    // A stripe's chunk hashes go to the hash cache as it sends them: the primary's end digest takes them
    // from there rather than reading the file a second time (§5.13.6, `FileHashCache.hashStriped`).
    stripeSent =
      request.stripe !== undefined && !objects
        ? new StripeSentHashes(
            io.ctx.hashCache,
            source,
            target.path,
            hashes,
            request.stripe.index > 0 ? io.clientKey : undefined,
          )
        : undefined;
    const { ref } = request;
    let verifiedBytes = 0;
    let patchedBytes = 0;
    /** Waits for `work` (which reads the file), then feeds its result; a file that changed goes to the machine. */
    const reading = async <T>(
      work: Promise<T>,
      then: (value: T) => readonly DownloadEffect[],
    ): Promise<readonly DownloadEffect[]> => {
      let value: T;
      try {
        value = await work;
      } catch (err) {
        if (isFerryError(err, 'SOURCE_CHANGED') && !err.remote) return machine.sourceChanged(err);
        throw err;
      }
      return then(value);
    };
    const apply = async (effect: DownloadEffect): Promise<readonly DownloadEffect[]> => {
      switch (effect.kind) {
        case 'send':
          await io.send(effect.message);
          return [];
        case 'hash':
          // A check sends no file data, so it must not cost a read of the file each time it is asked: from
          // the server's cache where it can (docs/SECURITY.md "Hashing on request").
          if (effect.check) {
            return reading(
              io.ctx.hashCache.hashChunks(
                io.clientKey,
                source,
                target.path,
                effect.chunks,
                hashes,
                io.stopped,
              ),
              () => machine.hashed(),
            );
          }
          // The end digest of a striped download's primary (§5.13.6): the other stripes' chunks, which they
          // remembered as they sent them (`stripeSent`), are not read again.
          return reading(
            io.ctx.hashCache.hashStriped(io.clientKey, source, effect.chunks, hashes, io.stopped),
            () => [],
          );
        case 'stream': {
          verifiedBytes = effect.heldBytes;
          io.events.transferStarted(ref, {
            direction: 'download',
            path: request.path,
            size: source.size,
            heldBytes: verifiedBytes,
            restarted: false,
          });
          if (effect.patch) {
            // Every chunk is read and hashed whole for its GET_CHUNK, and only the pieces go: one byte asked
            // of each leaf would make the server read the file for a few bytes a leaf, unpaid.
            await io.ctx.hashCache.spend(io.clientKey, effect.unsentBytes ?? 0, io.stopped);
            return reading(
              streamChunks(source, {
                chunkBytes: hashes.chunkBytes,
                chunks: effect.chunks,
                hashes,
                sink: patchedSink(
                  ref,
                  effect.patch,
                  (message) => io.send(message),
                  async (index, chunkHash) => {
                    await io.send({ type: 'GET_CHUNK', ref, index, chunkHash });
                    verifiedBytes += hashes.lengthOf(index);
                    io.events.transferProgress(ref, verifiedBytes);
                  },
                  (bytes) => (patchedBytes += bytes),
                ),
              }),
              // The file bytes that went are the pieces' (PROTOCOL.md §5.17.4), not the chunks'.
              () => machine.sent(patchedBytes),
            );
          }
          const chunkSent = (index: number): void => {
            stripeSent?.sent(index);
            verifiedBytes += hashes.lengthOf(index);
            io.events.transferProgress(ref, verifiedBytes);
          };
          const streaming = io.ctx.sealPool
            ? streamChunksPooled(source, {
                chunkBytes: hashes.chunkBytes,
                chunks: effect.chunks,
                hashes,
                sink: {
                  pool: io.ctx.sealPool,
                  memory: io.ctx.downloadMemory?.hold(io.clientKey.toString('hex'), 0),
                  headerBytes: GET_DATA_HEADER_BYTES,
                  writeDataHeader: (slot, fileOffset) => writeGetDataHeader(slot, 0, ref, fileOffset),
                  reserve: (count) => io.reserveRecords(count),
                  writeFramed: (framed, records) => io.writeFramed(framed, records),
                  chunkMessage: (index, chunkHash) =>
                    encodeMessage({ type: 'GET_CHUNK', ref, index, chunkHash }),
                  chunkSent,
                },
              })
            : streamChunks(source, {
                chunkBytes: hashes.chunkBytes,
                chunks: effect.chunks,
                hashes,
                sink: {
                  headerBytes: GET_DATA_HEADER_BYTES,
                  writeDataHeader: (slot, fileOffset) => writeGetDataHeader(slot, 0, ref, fileOffset),
                  sendData: (plaintext) => io.sendPlaintext(plaintext),
                  sendDataBlock: (plaintexts) => io.sendPlaintexts(plaintexts),
                  sendChunk: async (index, chunkHash) => {
                    await io.send({ type: 'GET_CHUNK', ref, index, chunkHash });
                    chunkSent(index);
                  },
                  // GET_CHUNK in the gathered write of its data: a delta's leaves (64 KiB) cost no write each.
                  chunkMessage: (index, chunkHash) =>
                    encodeMessage({ type: 'GET_CHUNK', ref, index, chunkHash }),
                  chunkSent,
                },
              });
          const recorded = stripeSent;
          return reading(recorded ? streaming.finally(() => recorded.end()) : streaming, (sent) =>
            machine.sent(sent),
          );
        }
        case 'sign': {
          // The file's leaf hashes from the server's store (issue 16, WARM deltas), for the version opened
          // (fstat of this very descriptor): the signing then hashes nothing, and with the leaves' weak
          // checksums too reads nothing; the identity is checked after it as after a cold one
          // (`check-unchanged`, which the signing is always followed by).
          const store = io.ctx.knownLeafHashes;
          const known =
            effect.blockBytes === LEAF_BYTES && store !== undefined && source instanceof SourceFile
              ? await store.find(target.path, source.identity).catch(() => undefined)
              : undefined;
          // PROTOCOL.md §5.17.2: every leaf read and hashed once, paid for like any hashing on request
          // (docs/SECURITY.md "Hashing on request"); the leaf hashes then answer the delta's held claim. A
          // signing from known hashes still reads every leaf it takes weak checksums of, and pays as much;
          // only one that reads nothing is free (as a delta upload's, "Known leaf hashes").
          if (known?.weak === undefined) await io.ctx.hashCache.spend(io.clientKey, source.size, io.stopped);
          // The client's next request for this file claims what it found in its old file: a delta.
          io.events.signed(request.path);
          // Below 16 MiB in the blocks a delta upload's signature uses (one rule, §5.15.2), the leaf hashes
          // taken on the same read; from 16 MiB on in the leaves themselves.
          if (effect.blockBytes !== LEAF_BYTES)
            return reading(
              signBlocks(source, ref, effect.blockBytes, (record) => io.send(record), hashes),
              () => machine.signed(),
            );
          // The signing's reads and tables are held while a client reads its records, as slowly as it likes:
          // from the delta memory delta uploads reserve, per client and in total (docs/SECURITY.md).
          const release = await io.ctx.deltaMemory.reserve(
            io.clientKey.toString('hex'),
            deltaSigningBytes(source.size),
            io.stopped,
          );
          // Weak checksums taken for the store when it lacks them (a file recorded at its upload's finish).
          const weakOut =
            store !== undefined && known?.weak === undefined ? new Uint32Array(hashes.count) : undefined;
          return reading(
            signLeaves(source, ref, hashes, (record) => io.send(record), undefined, undefined, {
              known: known?.hashes,
              knownWeak: known?.weak,
              weakOut,
            }).finally(release),
            () => {
              // What a whole signing took is known for the next delta against this version, once the check
              // that follows says the file is still the one opened.
              if (weakOut !== undefined && store !== undefined && source instanceof SourceFile)
                toRecord = { store, identity: source.identity, weak: weakOut };
              return machine.signed();
            },
          );
        }
        case 'check-unchanged':
          return reading(source.assertUnchanged(), () => {
            // Found unchanged: recorded once GET_END is sent (`done`), so the client's scan is not kept
            // waiting for the entry's encoding (issue 16).
            unchangedToRecord = toRecord;
            toRecord = undefined;
            return machine.unchanged();
          });
        case 'hashed-whole':
          await io.ctx.hashCache.rememberAll(source, target.path, hashes);
          return [];
        case 'done':
          io.events.transferFinished(ref, {
            digest: effect.digest,
            transferredBytes: effect.sentBytes,
            identical: effect.identical,
          });
          if (unchangedToRecord !== undefined) {
            const { store, identity, weak } = unchangedToRecord;
            recording = store.record(target.path, identity, hashes, weak).catch(() => undefined);
            unchangedToRecord = undefined;
          }
          return [];
        case 'fail':
          throw effect.error;
      }
    };
    const queue = [...machine.start()];
    for (let effect = queue.shift(); effect; effect = queue.shift()) {
      if (effect.kind === 'done') {
        await apply(effect);
        return effect.sentBytes;
      }
      queue.push(...(await apply(effect)));
    }
    throw new FerryError('INTERNAL', 'download stopped without an outcome');
  } finally {
    await stripeSent?.end();
    await recording;
    await source.close();
  }
}
