import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: ((options: { type: 'minor' }) => void) | undefined;

/**
 * Runs a minor (young generation) collection. A sender's every sealed record leaves node:crypto's output (a
 * fresh 64 KiB buffer: there is no update-into) as garbage held outside the JS heap, while the send loop
 * itself allocates almost nothing: V8 then waits for ~64 MiB of that external memory and answers it with
 * full mark-compacts, one per few dozen MiB (a download's server with block writes: 35-39 per GiB against 1-3,
 * +15-20 % CPU). A minor collection every 16 MiB frees those buffers while they are young and cheap to free.
 *
 * node:vm's `gc` is the only way to ask for a collection; the flag only adds `gc` to contexts made after it
 * (the SealPool's workers do the same, seal-worker.ts). Set on first use, so a process that never streams
 * a large file keeps its flags.
 */
export function collectYoungGarbage(): void {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as (options: { type: 'minor' }) => void;
  }
  collect({ type: 'minor' });
}
