import { toFerryError } from '../errors/index.js';

/**
 * `wait`, or its end with `signal`'s reason once it aborts: a session's wait that must not outlive its
 * connection (a paced hash's timer, left to run out unref'd; a claim queued behind another, which runs on).
 */
export function untilAborted(wait: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return wait;
  if (signal.aborted) return Promise.reject(toFerryError(signal.reason));
  return new Promise<void>((resolve, reject) => {
    const stop = (): void => reject(toFerryError(signal.reason));
    signal.addEventListener('abort', stop, { once: true });
    wait.then(
      () => {
        signal.removeEventListener('abort', stop);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', stop);
        reject(toFerryError(err));
      },
    );
  });
}
