import { setFlagsFromString } from 'node:v8';

/**
 * `ferry serve`'s garbage-collector setting, applied once when it starts (issue 14): V8's incremental marking
 * off, so a major collection runs only when the old generation is really full, as one parallel pause.
 *
 * Why: a receiving server allocates a fresh 64 KiB plaintext per record (node:crypto's `decipher.update`
 * has no output buffer) on a small heap (~13 MiB live). As a long-running server's young generation grows
 * (V8 grows it past `--semi-space-growth-factor=1`, and it does not shrink between back-to-back sessions),
 * V8 11's start heuristic fires after every collection. Measured on a real `serve` across sessions: the
 * first 1 GiB upload took 1-6 major collections, later sessions 14-32 per 512 MiB, each ~10 ms on the event
 * loop plus ~40 ms of marking on a helper thread; the resume bench's resumed half (the server's third
 * session) cost 1.57-1.71 CPU s per 512 MiB against 2.4-2.7 for a whole 1 GiB on a fresh server. Off:
 * no major collection after the first session's, 1.19-1.23 s per resumed 512 MiB, and the same peak
 * resident memory (VmHWM over five 512 MiB sessions 123 MiB, 129 before); memory between sessions sits
 * ~10 MiB higher, as the old generation fills to its limit before a collection.
 *
 * The trade: no concurrent marking either, so a major collection pauses the event loop for the whole mark
 * (a ~13 MiB heap: the storm's collections took 5-45 ms each on the event loop), now rare; a server whose
 * heap grows large (very many sessions) pays longer pauses. A CLI choice for the server process alone: the library leaves
 * the flags of the process that embeds it alone, and a client runs one session.
 */
export function tuneServeHeap(): void {
  // V8 reads the flag each time it considers starting a marking, so setting it after start-up holds.
  setFlagsFromString('--no-incremental-marking');
}
