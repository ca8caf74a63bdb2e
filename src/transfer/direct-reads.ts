import { constants as fsConstants } from 'node:fs';
import { DIRECT_ALIGN_BYTES } from './direct-writer.js';

/**
 * How a leaf hash thread reads a file: `uncached` around the page cache unless the file is found cached (the
 * default), `always` around it wherever it can, `never` through it (tests: the way taken where direct I/O
 * cannot be had).
 */
export type DirectReads = 'uncached' | 'always' | 'never';

/** Bytes of a job's first read timed to find out whether its file is cached (`uncached`). */
const PROBE_BYTES = 1024 * 1024;

/**
 * Where the kernel does not count a thread's bytes fetched from storage: faster than this (1 MiB at 1.75
 * GB/s, more than this VM's disk gives), the probe came from the cache.
 */
const CACHED_PROBE_NS = 600_000;

/**
 * Bytes of a file read by what a probe found before it is probed again (a signing's pieces are a job each,
 * so a thread keeps what it found per file): 64 MiB, a probe's ordinary read of a cold file costing ~1 ms.
 */
const REPROBE_BYTES = 64 * 1024 * 1024;

/**
 * The leaf hash thread's reads of a lent descriptor, around the page cache (`O_DIRECT`), as source for its
 * program (plain CommonJS, `leaf-hash-thread.ts`): `openReads(fd, mode, fileKey)` gives `{ read, close,
 * directBytes }` for one job (`mode`: `DirectReads`), used by the signing's pieces (`readLeaves`) and a file
 * hashed ahead (`hashFile`) alike. `fileKey` is the file's (`fileKeyOf(fd)`, an fstat): taken once per file
 * by whoever holds the descriptor across its jobs and passed to each, as `hashFile` (one job per file) does;
 * a job given none takes it itself (a signing's pieces, a job each: 256 fstats per GiB).
 *
 * Why (issue 16): a cold 1 GiB delta hashes the whole file on each side, and on this project's 2-core VM a
 * buffered read costs 0.26-0.61 CPU s per GiB in the kernel alone (nearly all of it `_copy_to_iter`: this
 * VM's page cache pages are dear to touch), two at once (client and server both reading) up to 2.8 s; an
 * `O_DIRECT` read of 4 MiB blocks costs ~0.05 CPU s per GiB at 1.1-1.7 GB/s (fio), about SHA-256's own
 * speed (1.74 GB/s): the CPU the hashing needs. The reads are asked of libuv's pool (the caller keeps more
 * than one in flight where it can), so the disk works while the thread hashes.
 *
 * How: a second descriptor of the very file the lent one names, reopened through `/proc/self/fd` (never by a
 * path someone could swap meanwhile) and checked to be the same inode; reads at aligned offsets into aligned
 * memory, the length rounded up to the block when the caller has that room (the end of the file then reads
 * short, as it must: the size it was asked is what counts, so a file that ended early is still found). Where
 * it cannot (no /proc, a file system without direct I/O, memory or an offset not aligned: the open fails or
 * a read says EINVAL) it reads the ordinary way through the lent descriptor, silently and for the rest of
 * the job; any other failure is reported as a read's always was. A read that ends short off the block (the
 * file shrank, or grew, meanwhile) goes on the ordinary way from there.
 *
 * A file the page cache holds is read the ordinary way (`uncached`): a direct read goes to the disk whatever
 * the cache holds (its dirty pages written first, by the kernel), and measured here (1 GiB fully cached,
 * `bench/hash-file-probe.ts`) a signing on two threads took 1.2-1.5 s that way against 0.7-0.97 s from the
 * cache (the disk, 1.1-1.9 GB/s, cannot feed two SHA-256 threads), the same ~0.1 CPU s of system time
 * either way; cold, the direct way took 1.00 s and 0.11 s of it against 1.11 s and 0.52 s. So each job's
 * first MiB is read the ordinary way, the kernel asked whether that went to the disk, and the next 64 MiB
 * of the file read by what it found,
 * remembered by the thread for the jobs that follow (a signing's pieces). A file cached only in parts is
 * judged by a MiB in 64 (time, never correctness: both ways read the same bytes).
 *
 * What a direct read leaves behind is no cache: a file read again soon after (a delta upload's server copies
 * its old file's shifted leaves after signing it, an insertion) is read from the disk again, the ordinary
 * way. `bench/delta-ab.ts --drop-caches`, 1 GiB, one run each: an insertion's upload, server 3.42 -> 4.12
 * CPU s, client 3.27 -> 2.31, wall 4.73 -> 4.75 s; its download 4.83 -> 2.91 s (client 2.93 -> 1.73 CPU s).
 */
export const DIRECT_READS_PROGRAM = `
const DIRECT_ALIGN = ${DIRECT_ALIGN_BYTES};
const ENDED_EARLY = 'the file ended early';
const PROBE_BYTES = ${PROBE_BYTES};
const CACHED_PROBE_NS = ${CACHED_PROBE_NS}n;
const REPROBE_BYTES = ${REPROBE_BYTES};
const whyOf = (err) => String((err && err.code) || err);
// Files this thread probed lately (key: device, inode and mtime), the newest last: whether found cached, and
// the bytes read of it since.
const probedFiles = new Map();
function openReads(fd, mode, fileKey) {
  const fs = require('node:fs');
  const key = mode === 'never' ? undefined : fileKey === undefined ? fileKeyOf(fd) : fileKey;
  // Set once the direct descriptor could not be had or a direct read was refused (EINVAL): the ordinary way
  // for the rest of the job.
  let refused = key === undefined;
  // The direct descriptor, opened at the first read that goes direct: a job that finds its file cached (a
  // signing's pieces are a job each, 256 per GiB) opens none.
  let opened;
  const direct = () => {
    if (opened === undefined && !refused) opened = openDirect(fd, key);
    if (opened === undefined) refused = true;
    return !refused;
  };
  const reads = {
    directBytes: 0,
    // Reads exactly length bytes at position into view (which may be longer: room for a rounded-up read);
    // done(undefined) once read, or done(why): the read's error code, or that the file ended early.
    read(view, length, position, done) {
      // Direct up to the length rounded up to the block where view has that room, else its whole blocks.
      const rounded = Math.ceil(length / DIRECT_ALIGN) * DIRECT_ALIGN;
      const directEnd = rounded <= view.length ? rounded : length - (length % DIRECT_ALIGN);
      let cached = false;
      const next = (got) => {
        if (got >= length) return done(undefined);
        const at = position + got;
        if (!cached && got < directEnd && at % DIRECT_ALIGN === 0 && got % DIRECT_ALIGN === 0 && direct())
          return fs.read(opened.fd, view, got, directEnd - got, at, (err, n) => {
            if (err && err.code === 'EINVAL') {
              refused = true; // memory not aligned, no direct I/O here: the ordinary way on
              return next(got);
            }
            if (err) return done(whyOf(err));
            if (n === 0) return done(ENDED_EARLY);
            reads.directBytes += Math.min(n, length - got);
            next(got + n);
          });
        fs.read(fd, view, got, length - got, at, (err, n) => {
          if (err) return done(whyOf(err));
          if (n === 0) return done(ENDED_EARLY);
          next(got + n);
        });
      };
      if (refused || mode !== 'uncached') return next(0);
      const found = probedFiles.get(key);
      if (found !== undefined && found.since < REPROBE_BYTES) {
        found.since += length;
        cached = found.cached;
        return next(0);
      }
      if (length < PROBE_BYTES) return next(0);
      // Its first MiB read the ordinary way, here, and what that fetched from the disk asked of the kernel
      // (this thread's read_bytes: 0 from the page cache, at least the MiB from the disk). Timing it instead
      // misjudged a cached file as cold in a delta upload (the server opened 128 direct descriptors of its
      // cached old file: a 1 MiB read from the cache, 0.1-0.5 ms, took longer while 4 busy threads shared 2
      // cores); timed only where the kernel keeps no such count (from the cache 0.1-0.5 ms, this disk 1.0-1.8
      // ms). Found again every REPROBE_BYTES: a file cached in parts, or a probe misjudged, is judged again.
      // Nothing but the read writes into the view: it is shared, and a caller whose job failed (the thread
      // closed under it) reads the same piece into it meanwhile (a fill here to fault its pages in before the
      // timing zeroed a MiB under such a read once: a signing's strong hashes wrong, in the full suite).
      const fetchedBefore = fetchedBytes();
      const start = process.hrtime.bigint();
      let got;
      try {
        got = fs.readSync(fd, view, 0, PROBE_BYTES, position);
      } catch (err) {
        return done(whyOf(err));
      }
      const took = process.hrtime.bigint() - start;
      const fetched = fetchedBefore === undefined ? undefined : fetchedBytes();
      cached = fetched === undefined ? took < CACHED_PROBE_NS : fetched - fetchedBefore < PROBE_BYTES / 2;
      probedFiles.delete(key);
      probedFiles.set(key, { cached, since: length });
      if (probedFiles.size > 16) probedFiles.delete(probedFiles.keys().next().value);
      if (got === 0) return done(ENDED_EARLY);
      next(got);
    },
    // Once no read is in flight.
    close() {
      if (opened === undefined) return;
      try {
        fs.closeSync(opened.fd);
      } catch {
        // nothing was written through it
      }
    },
  };
  return reads;
}
// Bytes this thread had fetched from storage (/proc/thread-self/io, read_bytes), or undefined where the
// kernel does not say.
function fetchedBytes() {
  try {
    const found = /read_bytes: (\\d+)/.exec(require('node:fs').readFileSync('/proc/thread-self/io', 'latin1'));
    return found ? Number(found[1]) : undefined;
  } catch {
    return undefined;
  }
}
// The lent descriptor's file: device, inode and mtime (what a probe found is kept under it, and what a direct
// descriptor must be); undefined when it cannot be known (the ordinary reads then report what is wrong). Good
// only while the descriptor stays lent: once given back, its number may name another file.
function fileKeyOf(fd) {
  try {
    const st = require('node:fs').fstatSync(fd, { bigint: true });
    return st.isFile() ? st.dev + ':' + st.ino + ':' + st.mtimeNs : undefined;
  } catch {
    return undefined;
  }
}
// A second descriptor of the file the lent one names, opened for direct I/O, if it is that very file.
function openDirect(fd, key) {
  const fs = require('node:fs');
  let direct;
  try {
    direct = fs.openSync('/proc/self/fd/' + fd, ${fsConstants.O_RDONLY | fsConstants.O_DIRECT});
  } catch {
    return undefined;
  }
  try {
    const theirs = fs.fstatSync(direct, { bigint: true });
    if (key.startsWith(theirs.dev + ':' + theirs.ino + ':') && theirs.isFile()) return { fd: direct };
  } catch {
    // closed below: the ordinary reads do
  }
  fs.closeSync(direct);
  return undefined;
}
`;
