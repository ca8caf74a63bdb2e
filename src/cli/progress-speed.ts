/** How quickly the smoothed speed follows a change: the weight of history after one second. */
const SMOOTHING_PER_SECOND = 0.3;

/**
 * A transfer's speed, smoothed so a bar does not flicker: an exponentially weighted moving average of the
 * rate between successive observations, weighted by the time each one covers. Time is passed in, so tests
 * need no clock.
 */
export class SpeedMeter {
  #lastBytes: number | undefined;
  #lastMs = 0;
  #rate: number | undefined;

  /** Records that `bytes` were done at `nowMs`. */
  observe(bytes: number, nowMs: number): void {
    if (this.#lastBytes === undefined) {
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

  /** Bytes per second, or undefined before two observations. */
  get bytesPerSecond(): number | undefined {
    return this.#rate;
  }

  /** Seconds until `remainingBytes` are done at the current speed, or undefined when unknown. */
  etaSeconds(remainingBytes: number): number | undefined {
    if (this.#rate === undefined || this.#rate <= 0) return undefined;
    return remainingBytes / this.#rate;
  }
}
