/**
 * The leaf hash thread's `hashFile` job, as source for its program (plain CommonJS, spliced into
 * `leaf-hash-thread.ts`'s, whose `LEAF`, `hashInto`, `writeAll`, `openReads` and `fileKeyOf` it uses): a
 * whole file's leaves hashed into a shared table in file order, read ahead on libuv's pool into a ring of
 * page-aligned pieces, and written through where they lie when asked. Its own file because it is the one job
 * that keeps state across turns of the thread's loop (its queue of reads and writes, the rings kept between
 * jobs); the signing's `readLeaves` is one read and one hash.
 */
export const HASH_FILE_PROGRAM = `
// A file's leaves from its start, a piece at a time: read on libuv's pool (around the page cache where it
// can, openReads) into a ring of page-aligned pieces, as many reads ahead as pieces are free, so the disk
// works while this thread hashes (a direct read waited for before each hash, queue depth 1, would take read
// plus hash: ~1.2 s per GiB); hashed here in file order, each leaf's hash into the shared table, then the
// count of leaves done published (state[0]) and waiters woken. state[1] set: no read is asked after it, and
// the job ends once those in flight are over (their pieces not hashed). One piece per turn of this thread's
// loop, so other jobs are answered in between.
// With writeFd (a lent descriptor opened for direct I/O) each piece's whole leaves below writeEnd are also
// written where they lie through it, from the very bytes hashed, on libuv's pool while the next pieces are
// read and hashed (a piece is read into again once its write landed); the count of leaves landed in order is
// state[2], and state[3] is set once a write failed (none after it). The answer waits for every read and
// write in flight.
function hashFile({ id, fd, size, pieceBytes, table, state, direct, writeFd, writeEnd }) {
  const out = new Uint8Array(table);
  const flags = new Int32Array(state);
  const length = Math.max(1, Math.min(pieceBytes, size));
  const ring = alignedRing(Math.ceil(length / DIRECT_ALIGN) * DIRECT_ALIGN);
  const through = writeFd !== undefined && ring !== undefined && flags.length >= 4;
  if (writeFd !== undefined && !through) Atomics.store(flags, 3, 1);
  // Without aligned memory, two plain pieces: the direct reads are refused (EINVAL), the ordinary ones read.
  const free = ring ? ring.pieces.slice() : [0, 1].map(() => Buffer.allocUnsafe(length));
  // One job for the whole file: its key is taken once, here.
  const reads = openReads(fd, direct, direct === 'never' ? undefined : fileKeyOf(fd));
  // Reads asked, in file order, each { at, n, piece, done, why }; the first is hashed once read.
  const queue = [];
  // Writes asked, in file order, each { end: in leaves, done }; the count landed passes the done ones.
  const writes = [];
  let inFlight = 0;
  let writing = through;
  let readAt = 0;
  let over = false;
  let answered = false;
  let scheduled = false;
  let failed;
  const answer = () => {
    if (!over || inFlight > 0 || answered) return;
    answered = true;
    reads.close();
    if (ring) rings.push(ring);
    Atomics.notify(flags, 0);
    parentPort.postMessage({ id, failed, directBytes: reads.directBytes });
  };
  const end = (why) => {
    failed = why;
    over = true;
    answer();
  };
  const schedule = () => {
    if (over) return answer();
    if (scheduled) return;
    scheduled = true;
    setImmediate(step);
  };
  const readAhead = () => {
    while (readAt < size && free.length > 0 && Atomics.load(flags, 1) === 0) {
      const read = { at: readAt, n: Math.min(length, size - readAt), piece: free.pop(), done: false, why: undefined };
      queue.push(read);
      readAt += read.n;
      inFlight++;
      reads.read(read.piece, read.n, read.at, (why) => {
        inFlight--;
        read.done = true;
        read.why = why;
        schedule();
      });
    }
  };
  const landed = (write, err) => {
    inFlight--;
    if (err) {
      // Nothing counts as landed from this piece on (those after it may land, unnamed).
      writing = false;
      writes.length = 0;
      Atomics.store(flags, 3, 1);
    } else write.done = true;
    while (writes.length > 0 && writes[0].done) Atomics.store(flags, 2, writes.shift().end);
    Atomics.notify(flags, 0);
  };
  const step = () => {
    scheduled = false;
    if (over) return answer();
    if (Atomics.load(flags, 1) !== 0) return end(undefined);
    readAhead();
    const head = queue[0];
    // Nothing asked: all hashed, or every piece waits for its write to land (which schedules a turn).
    if (head === undefined) return readAt >= size ? end(undefined) : undefined;
    if (!head.done) return; // its read schedules a turn
    queue.shift();
    if (head.why !== undefined) return end(head.why);
    const { at, n, piece } = head;
    for (let off = 0; off < n; off += LEAF)
      hashInto(out, 32 * ((at + off) / LEAF), piece.subarray(off, Math.min(n, off + LEAF)));
    const whole = writing ? Math.max(0, Math.min(n, Math.floor((writeEnd - at) / LEAF) * LEAF)) : 0;
    if (whole > 0) {
      const write = { end: (at + whole) / LEAF, done: false };
      writes.push(write);
      inFlight++;
      writeAll(writeFd, piece.subarray(0, whole), at, (err) => {
        landed(write, err);
        free.push(piece);
        schedule();
      });
    } else free.push(piece);
    Atomics.store(flags, 0, Math.ceil((at + n) / LEAF));
    Atomics.notify(flags, 0);
    schedule();
  };
  step();
}
// Rings of RING pieces whose addresses are page-aligned, as direct I/O asks (a WebAssembly memory starts on a
// page), kept for the next job once one is over (at most as many as jobs ran at once); undefined when such
// memory cannot be had (the job then reads the ordinary way and hashes without writing through). Four: one
// hashed, the others read ahead or waiting for their write through to land.
const RING = 4;
const rings = [];
function alignedRing(length) {
  const found = rings.findIndex((ring) => ring.bytes >= length);
  if (found >= 0) return rings.splice(found, 1)[0];
  const bytes = Math.ceil(length / 65536) * 65536;
  try {
    const memory = new WebAssembly.Memory({ initial: (RING * bytes) / 65536 });
    const pieces = Array.from({ length: RING }, (_, i) => Buffer.from(memory.buffer, i * bytes, bytes));
    return { bytes, pieces };
  } catch {
    return undefined;
  }
}
`;
