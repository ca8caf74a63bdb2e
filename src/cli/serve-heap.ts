import { setFlagsFromString } from 'node:v8';

/**
 * `ferry serve`'s garbage-collector setting, applied once when it starts (issue 14): V8's incremental marking
 * off, so a major collection runs only when the old generation is really full, as one parallel pause.
 *
 * Why: a receiving server allocates a fresh 64 KiB plaintext per record (node:crypto's `decipher.update`
 * has no output buffer) on a small heap (~13 MiB live). As a long-running server's young generation grows
 * (V8 grows it past `--semi-space-growth-factor=1`, and it does not shrink between back-to-back sessions),
 * V8 11's start heuristic fires after every collection: measured on a real `serve` across sessions, the
 * first 1 GiB upload took 1-6 major collections, later sessions 14-32 per 512 MiB, each ~10 ms on the event loop
 * plus ~40 ms of marking on a helper thread, so the server's CPU per GiB nearly doubled (the resumed half of
 * the resume bench: 2.34 s for 516 MiB against 2.38 s for a whole direct upload). Off, every session took
 * 0 major collections past the first, at ~8 MiB more resident memory (the old generation now fills to its
 * limit before a collection).
 *
 * The trade: no concurrent marking either, so a major collection pauses the event loop for the whole mark;
 * on this heap ~10-20 ms, once per many GiB. A CLI choice for the server process alone: the library leaves
 * the flags of the process that embeds it alone, and a client runs one session.
 */
export function tuneServeHeap(): void {
  // V8 reads the flag each time it considers starting a marking, so setting it after start-up holds.
  setFlagsFromString('--no-incremental-marking');
}
