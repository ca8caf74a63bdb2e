import { toFerryError } from '../errors/index.js';

/**
 * Queues a waiter made by `make` at the end of `queue` and resolves once its `admit` is called (by whoever
 * takes it off the queue: DeltaMemory, BatchAdmission). With `signal` (the operation's or its connection's),
 * a waiter still queued when it aborts leaves the queue and the wait rejects with the signal's reason: a
 * client that hung up leaves no waiter behind. The waiter is queued before this returns.
 */
export function queuedUntilAdmitted<W extends { admit: () => void }>(
  queue: W[],
  make: (admit: () => void) => W,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted) return Promise.reject(toFerryError(signal.reason));
  return new Promise<void>((resolve, reject) => {
    const gone = (): void => {
      const at = queue.indexOf(waiter);
      if (at < 0) return;
      queue.splice(at, 1);
      reject(toFerryError(signal!.reason));
    };
    const waiter = make(() => {
      signal?.removeEventListener('abort', gone);
      resolve();
    });
    queue.push(waiter);
    signal?.addEventListener('abort', gone, { once: true });
  });
}
