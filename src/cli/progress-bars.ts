import type { MultiBar, Options, Params, SingleBar } from 'cli-progress';
import { createRequire } from 'node:module';
import type { TransferSubject } from '../index.js';
import { formatBarLine } from './format-bar-line.js';
import { SpeedMeter } from './progress-speed.js';
import type { Colors } from './terminal-colors.js';

/**
 * cli-progress's bars, loaded when the first bar is drawn: a run that draws none (`--quiet`, `--json`, plain
 * lines off a terminal) does not pay its loading (issue 14: ~10 ms of every client start before connecting).
 * It is CommonJS, so `require` loads it synchronously, from where an `import` would.
 */
function newMultiBar(options: Options): MultiBar {
  const bars = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  return new bars.MultiBar(options);
}

/** Progress redraws at once when the last draw is this old (the bar's own timer covers the rest). */
const REDRAW_MS = 100;

export interface ProgressBarsOptions {
  /** Where the bars draw (a terminal). */
  stream: NodeJS.WritableStream;
  colors: Colors;
  now: () => number;
  /** The widest a bar line may be now (the terminal can be resized between draws). */
  width: () => number;
}

/** One file's bar and what it needs to draw speed and ETA. */
interface LiveBar {
  bar: SingleBar;
  speed: SpeedMeter;
  size: number;
  verified: number;
}

/** The overall bar of a run with several files: files and bytes done of the planned total. */
interface TotalBar {
  bar: SingleBar;
  speed: SpeedMeter;
  files: number;
  bytes: number;
  filesDone: number;
  /** Bytes of finished files; live bars add theirs. */
  bytesDone: number;
}

/**
 * The live bars on a terminal: one per file in flight and, for a run of several files, an overall bar
 * above them. Nothing is drawn (nor cli-progress loaded) until the first bar starts; a file without a bar
 * is ignored, so a display without bars may pass every event on.
 */
export class ProgressBars {
  readonly #stream: NodeJS.WritableStream;
  readonly #c: Colors;
  readonly #now: () => number;
  readonly #width: () => number;
  readonly #bars = new Map<string, LiveBar>();
  #total: TotalBar | undefined;
  #multi: MultiBar | undefined;
  #drawnAt = Number.NEGATIVE_INFINITY;

  constructor(options: ProgressBarsOptions) {
    this.#stream = options.stream;
    this.#c = options.colors;
    this.#now = options.now;
    this.#width = options.width;
  }

  /** Prints `line` above the bars; false when no bar was drawn (the caller prints it plainly). */
  log(line: string): boolean {
    if (!this.#multi) return false;
    this.#multi.log(`${line}\n`);
    return true;
  }

  /** Removes every bar and the rows they drew; idempotent. */
  stop(): void {
    if (this.#multi) {
      this.#multi.update(); // flushes lines still buffered above the bars
      // stop() clears every row the bars drew; removing bars first would leave their last rows behind.
      this.#bars.clear();
      this.#total = undefined;
      this.#multi.stop();
      this.#multi = undefined;
    }
  }

  startTotal(files: number, bytes: number): void {
    if (this.#total) return;
    this.#multi ??= newMultiBar(this.#barOptions());
    const speed = new SpeedMeter();
    speed.observe(0, this.#now());
    const bar = this.#multi.create(Math.max(bytes, 1), 0, {
      name: `${0}/${files} files`,
      speed: undefined,
      eta: undefined,
    });
    this.#total = { bar, speed, files, bytes, filesDone: 0, bytesDone: 0 };
  }

  /** Redraws the overall bar from the finished files and the live bars. */
  #updateTotal(): void {
    const total = this.#total;
    if (!total) return;
    let done = total.bytesDone;
    for (const live of this.#bars.values()) done += live.verified;
    total.speed.observe(done, this.#now());
    total.bar.update(total.bytes === 0 ? 1 : Math.min(done, total.bytes), {
      name: `${total.filesDone}/${total.files} files`,
      speed: total.speed.bytesPerSecond,
      eta: total.speed.etaSeconds(Math.max(0, total.bytes - done)),
    });
  }

  start(subject: TransferSubject, size: number, heldBytes: number): void {
    const key = keyOf(subject);
    if (this.#bars.has(key)) return;
    this.#multi ??= newMultiBar(this.#barOptions());
    const speed = new SpeedMeter();
    speed.observe(heldBytes, this.#now());
    const bar = this.#multi.create(Math.max(size, 1), size === 0 ? 1 : heldBytes, {
      name: nameOf(subject),
      speed: undefined,
      eta: undefined,
    });
    this.#bars.set(key, { bar, speed, size, verified: heldBytes });
    this.#updateTotal();
  }

  progress(subject: TransferSubject, verifiedBytes: number): void {
    const live = this.#bars.get(keyOf(subject));
    if (!live) return;
    live.verified = verifiedBytes;
    this.#updateTotal();
    live.speed.observe(verifiedBytes, this.#now());
    live.bar.update(live.size === 0 ? 1 : verifiedBytes, {
      speed: live.speed.bytesPerSecond,
      eta: live.speed.etaSeconds(live.size - verifiedBytes),
    });
    const now = this.#now();
    if (this.#multi && now - this.#drawnAt >= REDRAW_MS) {
      this.#drawnAt = now;
      this.#multi.update();
    }
  }

  /** A file is done (`verified`) or failed: its bar goes, and the overall bar counts it. */
  end(subject: TransferSubject, size: number, verified: boolean): void {
    const key = keyOf(subject);
    const live = this.#bars.get(key);
    if (live && this.#multi) {
      this.#bars.delete(key);
      this.#multi.remove(live.bar);
    }
    const total = this.#total;
    if (!total) return;
    total.filesDone++;
    if (verified) {
      total.bytesDone += size;
    } else if (live) {
      // What a failed file got verified stays counted (the bar never goes back); the rest will never
      // come, so the total shrinks by it and the ETA stays honest.
      total.bytesDone += live.verified;
      total.bytes = Math.max(total.bytesDone, total.bytes - (live.size - live.verified));
      total.bar.setTotal(Math.max(total.bytes, 1));
    }
    this.#updateTotal();
  }

  #barOptions(): Options {
    const c = this.#c;
    return {
      stream: this.#stream,
      hideCursor: true,
      clearOnComplete: true,
      // Wrapping off: a wrapped line would throw every redraw one row off. So every line we draw, bars and
      // lines above them, is fitted to the width first (formatBarLine, ProgressDisplay's #fit), or the
      // terminal would cut it.
      linewrap: false,
      fps: 10,
      format: (_options: Options, params: Params, payload: BarPayload): string =>
        formatBarLine(
          {
            name: payload.name,
            progress: params.progress,
            value: params.value,
            total: params.total,
            speed: payload.speed,
            eta: params.value >= params.total ? undefined : payload.eta,
          },
          this.#width(),
          c,
        ),
    };
  }
}

interface BarPayload {
  name: string;
  speed: number | undefined;
  eta: number | undefined;
}

function keyOf(subject: TransferSubject): string {
  return `${subject.direction}\0${subject.remotePath}`;
}

/** What a bar calls a file: its path on the server, the same for both directions. */
export function nameOf(subject: TransferSubject): string {
  return subject.remotePath;
}
