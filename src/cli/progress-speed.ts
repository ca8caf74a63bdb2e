/** How quickly the smoothed speed follows a change: the weight of history after one second. */
const SMOOTHING_PER_SECOND = 0.3;

/**
 * The bytes a rate needs behind it to be shown, in a bar and in a summary. Fewer than this cross in one or
 * two records, so their time is round trips, the fsync and the digest check, not the wire: 6 B showed "5 B/s"
 * in its bar and "avg 214 B/s" in the summary, which reads as a link of 214 B/s. rsync prints a rate always
 * and scp one per file, and both show the same nonsense for a tiny file ("0.1KB/s"); what their users want
 * from the number is the link's speed, so below this the bar shows `-` and the summary the time alone.
 */
export const MIN_RATE_BYTES = 64 * 1024;

/**
 * The average speed of `bytes` over `durationMs` (the whole transfer, from its first session), or undefined
 * when too few bytes moved for it to say anything of the link (MIN_RATE_BYTES) or no time passed.
 */
export function averageRate(bytes: number, durationMs: number): number | undefined {
  if (bytes < MIN_RATE_BYTES || durationMs <= 0) return undefined;
  return (bytes * 1000) / durationMs;
}

/**
 * A transfer's speed, smoothed so a bar does not flicker: an exponentially weighted moving average of the
 * rate between successive observations, weighted by the time each one covers. Time is passed in, so tests
 * need no clock.
 */
export class SpeedMeter {
  #firstBytes = 0;
  #lastBytes: number | undefined;
  #lastMs = 0;
  #rate: number | undefined;

  /** Records that `bytes` were done at `nowMs`. */
  observe(bytes: number, nowMs: number): void {
    if (this.#lastBytes === undefined) {
      this.#firstBytes = bytes;
      this.#lastBytes = bytes;
      this.#lastMs = nowMs;
      return;
    }
    const elapsedMs = nowMs - this.#lastMs;
    if (elapsedMs <= 0) return; // same instant: wait for time to pass, keep the earlier base
    const sample = ((bytes - this.#lastBytes) * 1000) / elapsedMs;
    const keep = Math.pow(SMOOTHING_PER_SECOND, elapsedMs / 1000);
    this.#rate = this.#rate === undefined ? sample : keep * this.#rate + (1 - keep) * sample;
    this.#lastBytes = bytes;
    this.#lastMs = nowMs;
  }

  /**
   * Bytes per second, or undefined before two observations and until MIN_RATE_BYTES were done since the
   * first (a held part of a resumed file does not count).
   */
  get bytesPerSecond(): number | undefined {
    if (this.#lastBytes === undefined || this.#lastBytes - this.#firstBytes < MIN_RATE_BYTES)
      return undefined;
    return this.#rate;
  }

  /** Seconds until `remainingBytes` are done at the current speed, or undefined when unknown. */
  etaSeconds(remainingBytes: number): number | undefined {
    const rate = this.bytesPerSecond;
    if (rate === undefined || rate <= 0) return undefined;
    return remainingBytes / rate;
  }
}
