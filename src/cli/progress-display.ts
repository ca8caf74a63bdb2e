import type { MultiBar, Options, Params, SingleBar } from 'cli-progress';
import { createRequire } from 'node:module';
import picocolors from 'picocolors';
import type { TransferEvent, TransferSubject } from '../index.js';
import { digestPrefix, formatBytes, formatDuration, formatRate } from './progress-format.js';
import { fitAround, fitPath, fitRoute, visibleWidth } from './progress-line.js';
import { SpeedMeter } from './progress-speed.js';
import type { TallySummary } from './progress-tally.js';
import { escapeForTerminal, escapeStringFields } from './escape-for-terminal.js';

/**
 * cli-progress's bars, loaded when the first bar is drawn: a run that draws none (`--quiet`, `--json`, plain
 * lines off a terminal) does not pay its loading (issue 14: ~10 ms of every client start before connecting).
 * It is CommonJS, so `require` loads it synchronously, from where an `import` would.
 */
function newMultiBar(options: Options): MultiBar {
  const bars = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  return new bars.MultiBar(options);
}

/** picocolors' colour functions (its types do not export the interface under a usable name). */
export type Colors = ReturnType<typeof picocolors.createColors>;

/** `bars`: live bars (a terminal); `lines`: one plain line per finished file (pipes, files); `quiet`. */
export type DisplayMode = 'bars' | 'lines' | 'quiet';

/** Most columns a file name gets in a bar; a narrower terminal gives it less. */
const NAME_COLUMNS = 40;
/** Most characters of the bar itself, and the fewest before the bar is dropped. */
const BAR_COLUMNS = 24;
const MIN_BAR_COLUMNS = 8;
/** A name narrower than this makes the bar drop its speed, then its byte counts. */
const MIN_NAME_COLUMNS = 20;
/** Assumed when the stream does not say (it is a terminal, but no size is known). */
const DEFAULT_COLUMNS = 80;
/** Failed files named again in the closing lines; the rest are counted (all are in `--json`). */
const MAX_FAILED_LINES = 20;
/** Progress redraws at once when the last draw is this old (the bar's own timer covers the rest). */
const REDRAW_MS = 100;

/** Picks the display for a stream: bars only on a real terminal that can draw them. */
export function displayModeOf(
  stream: { isTTY?: boolean },
  options: { quiet?: boolean; env?: NodeJS.ProcessEnv } = {},
): DisplayMode {
  if (options.quiet) return 'quiet';
  const env = options.env ?? process.env;
  return stream.isTTY === true && env['TERM'] !== 'dumb' ? 'bars' : 'lines';
}

/** Colours only on a terminal and never with `NO_COLOR` set (https://no-color.org). */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Colors {
  const noColor = env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '';
  return picocolors.createColors(stream.isTTY === true && !noColor && env['TERM'] !== 'dumb');
}

export interface ProgressDisplayOptions {
  mode: DisplayMode;
  /** Where it draws: stderr, so stdout stays for data. `columns` is the terminal's width. */
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  colors: Colors;
  now?: () => number;
  /**
   * A line for every finished file (default). False for a tree without `--verbose`: only failed and
   * skipped files get a line; the others are counted in the overall bar and the summary.
   */
  fileLines?: boolean;
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
 * Shows a `send` or `get` as it happens, from the client's TransferEvents: on a terminal one bar per file
 * in flight (bytes, percent, smoothed speed, ETA) with a line above them whenever a transfer resumes,
 * retries or finishes; elsewhere plain lines without escape codes; then a closing summary.
 */
export class ProgressDisplay {
  readonly #mode: DisplayMode;
  readonly #stream: ProgressDisplayOptions['stream'];
  readonly #c: Colors;
  readonly #now: () => number;
  readonly #fileLines: boolean;
  readonly #bars = new Map<string, LiveBar>();
  #total: TotalBar | undefined;
  #multi: MultiBar | undefined;
  #drawnAt = Number.NEGATIVE_INFINITY;

  constructor(options: ProgressDisplayOptions) {
    this.#mode = options.mode;
    this.#stream = options.stream;
    this.#c = options.colors;
    this.#now = options.now ?? Date.now;
    this.#fileLines = options.fileLines ?? true;
  }

  /** The terminal's width; lines above the bars and the bars themselves must fit in it. */
  get #columns(): number {
    const columns = this.#stream.columns;
    return typeof columns === 'number' && columns > 0 ? columns : DEFAULT_COLUMNS;
  }

  /** The widest a line may be: one column short of the width, so no terminal wraps it early. */
  get #width(): number | undefined {
    return this.#mode === 'bars' ? Math.max(20, this.#columns - 1) : undefined;
  }

  /** Shows one event; its names, paths and messages are escaped for the terminal first. */
  handle(rawEvent: TransferEvent): void {
    if (this.#mode === 'quiet') return;
    const event = escapeStringFields(rawEvent);
    const c = this.#c;
    switch (event.type) {
      case 'planned':
        if (this.#mode === 'bars' && event.files > 1) this.#startTotal(event.files, event.bytes);
        return;
      case 'transfer-started':
        if (event.restarted)
          this.#say(
            this.#fit({
              head: c.yellow('ferry: '),
              path: event.file,
              tail: c.yellow(' changed since the interrupted attempt: sending it again from the start'),
            }),
          );
        if (this.#mode === 'bars') this.#startBar(event, event.size, event.heldBytes);
        return;
      case 'transfer-resumed':
        if (this.#mode === 'bars' && this.#fileLines)
          this.#say(
            this.#fit({
              head: `${c.cyan('↻')} `,
              path: nameOf(event),
              tail:
                `: resuming from ${formatBytes(event.fromBytes)} ` +
                c.dim(`(${percent(event.fromBytes, event.size)} already verified)`),
            }),
          );
        return;
      case 'progress':
        this.#progress(event, event.verifiedBytes);
        return;
      case 'stalled':
        this.#say(c.yellow(`ferry: STALLED: ${event.message}`));
        return;
      case 'retrying':
        this.#say(
          c.yellow(
            `ferry: ${event.code}: retrying in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt})`,
          ),
        );
        return;
      // The line goes first: removing the bar redraws, which prints the line above the remaining bars.
      case 'transfer-finished':
        if (this.#fileLines) this.#say(this.#finishedLine(event));
        this.#endBar(event, event.size, true);
        return;
      case 'transfer-failed':
        this.#say(this.#failedLine(event, event.code, event.message));
        this.#endBar(event, 0, false);
        return;
      case 'entry-failed':
        this.#say(this.#failedLine({ remotePath: event.remotePath }, event.code, event.message));
        return;
      case 'entry-skipped':
        this.#skippedLine(event.path, event.reason); // already escaped with the whole event
        return;
      default:
        return;
    }
  }

  /** Tells the user something outside the event stream (a skipped local entry, say); escaped like events. */
  note(line: string): void {
    if (this.#mode === 'quiet') return;
    const safe = escapeForTerminal(line);
    const width = this.#width;
    this.#say(this.#c.yellow(width === undefined ? safe : fitAround({ head: '', path: safe }, width)));
  }

  /** A local entry left out of a tree (a link leading outside it, a special file); escaped first. */
  skipped(path: string, reason: string): void {
    this.#skippedLine(escapeForTerminal(path), escapeForTerminal(reason));
  }

  #skippedLine(safePath: string, safeReason: string): void {
    if (this.#mode === 'quiet') return;
    const c = this.#c;
    this.#say(c.yellow(this.#fit({ head: 'ferry: skipped ', path: safePath, tail: `: ${safeReason}` })));
  }

  /**
   * Removes the bars; with a summary, prints the closing lines: what was done, then every failed file with
   * its code (a failed run still says what it stored; its error line follows from the caller).
   */
  close(summary?: TallySummary, verb = 'sent'): void {
    if (this.#multi) {
      this.#multi.update(); // flushes lines still buffered above the bars
      // stop() clears every row the bars drew; removing bars first would leave their last rows behind.
      this.#bars.clear();
      this.#total = undefined;
      this.#multi.stop();
      this.#multi = undefined;
    }
    if (!summary || this.#mode === 'quiet') return;
    this.#write(this.#summaryLine(summary, verb));
    const c = this.#c;
    for (const failure of summary.failedFiles.slice(0, MAX_FAILED_LINES))
      this.#write(
        `${this.#mode === 'bars' ? `${c.red('✗')} ` : ''}not ${verb}: ${escapeForTerminal(failure.file ?? failure.remotePath)} ${c.red(failure.code)}`,
      );
    if (summary.failedFiles.length > MAX_FAILED_LINES)
      this.#write(
        `... and ${summary.failedFiles.length - MAX_FAILED_LINES} more failed (--json lists them all)`,
      );
  }

  #startTotal(files: number, bytes: number): void {
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

  #startBar(subject: TransferSubject, size: number, heldBytes: number): void {
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

  #progress(subject: TransferSubject, verifiedBytes: number): void {
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
  #endBar(subject: TransferSubject, size: number, verified: boolean): void {
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
      // lines above them, is fitted to the width first (formatBarLine, #fit), or the terminal would cut it.
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
          this.#width ?? DEFAULT_COLUMNS - 1,
          c,
        ),
    };
  }

  /** `parts` fitted to the terminal on a bar display; as is elsewhere (a file or pipe has no width). */
  #fit(parts: Parameters<typeof fitAround>[0]): string {
    const width = this.#width;
    return width === undefined
      ? `${parts.head}${parts.path}${parts.tail ?? ''}${parts.keep ?? ''}`
      : fitAround(parts, width);
  }

  /** A failed file (or tree entry), its route in the direction it travels, as `#finishedLine` writes it. */
  #failedLine(
    subject: Partial<TransferSubject> & { remotePath: string },
    code: string,
    message: string,
  ): string {
    const c = this.#c;
    const { file, remotePath } = subject;
    const tail = ` ${c.red(code)}: ${message}`;
    // Under the bars a file is named as its bar was (its remote path); the message gives way first.
    if (this.#mode === 'bars') return this.#fit({ head: `${c.red('✗')} `, path: remotePath, tail });
    const route =
      file === undefined
        ? remotePath
        : subject.direction === 'download'
          ? `${remotePath} -> ${file}`
          : `${file} -> ${remotePath}`;
    return `failed: ${route}${tail}`;
  }

  #finishedLine(event: Extract<TransferEvent, { type: 'transfer-finished' }>): string {
    const how = event.identical
      ? 'identical, skipped'
      : event.resumedBytes > 0
        ? `resumed from ${event.resumedBytes}`
        : (event.reusedBytes ?? 0) > 0
          ? `received ${event.transferredBytes}, ${event.reusedBytes} from the old file`
          : event.direction === 'upload'
            ? 'sent'
            : 'received';
    const route =
      event.direction === 'upload'
        ? `${event.file} -> ${event.remotePath}`
        : `${event.remotePath} -> ${event.file}`;
    const tail = ` (${event.size} bytes, ${how})`;
    const keep = ` digest ${digestPrefix(event.digest)}`;
    const width = this.#width;
    if (width === undefined) return `${route}${tail}${keep}`;
    // The digest is what the user compares: the paths give way, never it.
    const head = `${this.#c.green('✓')} `;
    const room = width - visibleWidth(head) - visibleWidth(tail) - visibleWidth(keep);
    const [from, to] =
      event.direction === 'upload' ? [event.file, event.remotePath] : [event.remotePath, event.file];
    return `${head}${fitRoute(from, to, Math.max(1, room))}${tail}${keep}`;
  }

  #summaryLine(summary: TallySummary, verb: string): string {
    const c = this.#c;
    const seconds = summary.durationMs / 1000;
    const rate = seconds > 0 ? summary.transferredBytes / seconds : undefined;
    const parts = [
      `${verb} ${summary.files} file${summary.files === 1 ? '' : 's'}`,
      `${formatBytes(summary.bytes)} in ${formatDuration(summary.durationMs)}`,
    ];
    if (summary.transferredBytes > 0) parts.push(`avg ${formatRate(rate)}`);
    if (summary.resumedBytes > 0) parts.push(`${formatBytes(summary.resumedBytes)} resumed`);
    if (summary.identical > 0) parts.push(`${summary.identical} identical`);
    if (summary.failed > 0) parts.push(`${summary.failed} failed`);
    if (summary.digest !== undefined) parts.push(`digest ${digestPrefix(summary.digest)}`);
    const text = parts.join(', ');
    if (this.#mode !== 'bars') return text;
    return summary.failed > 0 ? `${c.yellow('!')} ${c.bold(text)}` : `${c.green('✓')} ${c.bold(text)}`;
  }

  /** A line above the bars (or plain when there are none). */
  #say(line: string): void {
    if (this.#mode === 'quiet') return;
    if (this.#multi) this.#multi.log(`${line}\n`);
    else this.#write(line);
  }

  #write(line: string): void {
    this.#stream.write(`${line}\n`);
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
function nameOf(subject: TransferSubject): string {
  return subject.remotePath;
}

/** Whole seconds are precise enough for an estimate: `<1s`, `42s`, `3m05s`. */
function formatEta(seconds: number): string {
  if (seconds < 1) return '<1s';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  return formatDuration(seconds * 1000);
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '100%' : `${Math.floor((part / whole) * 100)}%`;
}

/** What one bar shows. */
export interface BarFields {
  name: string;
  /** 0 to 1. */
  progress: number;
  value: number;
  total: number;
  speed: number | undefined;
  eta: number | undefined;
}

/**
 * One bar line in at most `width` columns: name, bar, percent, bytes, speed, ETA. On a narrow terminal the
 * bar shrinks first, then speed and the byte counts are left out, and the name is shortened from the left;
 * the line never wraps (a wrapped line would throw every redraw one row off).
 */
export function formatBarLine(fields: BarFields, width: number, c: Colors): string {
  const pct = `${Math.floor(fields.progress * 100)}%`.padStart(4);
  // Widest values: `1000 KiB / 1000 KiB`, `1000 KiB/s`, `ETA 59m59s`.
  const bytes = `${formatBytes(fields.value)} / ${formatBytes(fields.total)}`.padStart(19);
  const speed = formatRate(fields.speed).padStart(10);
  const eta = (fields.eta === undefined ? '' : `ETA ${formatEta(fields.eta)}`).padEnd(10);
  const layouts = [[pct, bytes, speed, eta], [pct, bytes, eta], [pct, eta], [pct]];
  for (const tail of layouts) {
    const tailWidth = tail.reduce((sum, part) => sum + part.length + 1, 0);
    const barColumns = Math.min(BAR_COLUMNS, width - tailWidth - 1 - MIN_NAME_COLUMNS);
    if (barColumns < MIN_BAR_COLUMNS) continue;
    const nameColumns = Math.min(NAME_COLUMNS, width - tailWidth - 1 - barColumns);
    const filled = Math.round(fields.progress * barColumns);
    const bar = c.cyan('█'.repeat(filled)) + c.dim('░'.repeat(barColumns - filled));
    const parts = tail.map((part) => (part === eta ? c.dim(part) : part));
    return `${fitPath(fields.name, nameColumns)} ${bar} ${parts.join(' ')}`.trimEnd();
  }
  return `${fitPath(fields.name, Math.max(1, width - pct.length - 1))} ${pct}`;
}
