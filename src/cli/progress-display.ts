import { MultiBar, type Options, type Params, type SingleBar } from 'cli-progress';
import picocolors from 'picocolors';
import type { TransferEvent, TransferSubject } from '../client/index.js';
import { digestPrefix, formatBytes, formatDuration, formatRate } from './progress-format.js';
import { SpeedMeter } from './progress-speed.js';
import type { TallySummary } from './progress-tally.js';
import { escapeForTerminal, escapeStringFields } from './escape-for-terminal.js';

/** picocolors' colour functions (its types do not export the interface under a usable name). */
export type Colors = ReturnType<typeof picocolors.createColors>;

/** `bars`: live bars (a terminal); `lines`: one plain line per finished file (pipes, files); `quiet`. */
export type DisplayMode = 'bars' | 'lines' | 'quiet';

/** Columns a file name gets in a bar before it is shortened from the left. */
const NAME_COLUMNS = 28;
/** Characters of the bar itself. */
const BAR_COLUMNS = 24;
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
  /** Where it draws: stderr, so stdout stays for data. */
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  colors: Colors;
  now?: () => number;
}

/** One file's bar and what it needs to draw speed and ETA. */
interface LiveBar {
  bar: SingleBar;
  speed: SpeedMeter;
  size: number;
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
  readonly #bars = new Map<string, LiveBar>();
  #multi: MultiBar | undefined;
  #drawnAt = Number.NEGATIVE_INFINITY;

  constructor(options: ProgressDisplayOptions) {
    this.#mode = options.mode;
    this.#stream = options.stream;
    this.#c = options.colors;
    this.#now = options.now ?? Date.now;
  }

  /** Shows one event; its names, paths and messages are escaped for the terminal first. */
  handle(rawEvent: TransferEvent): void {
    if (this.#mode === 'quiet') return;
    const event = escapeStringFields(rawEvent);
    const c = this.#c;
    switch (event.type) {
      case 'transfer-started':
        if (event.restarted)
          this.#say(
            c.yellow(
              `ferry: ${event.file} changed since the interrupted attempt: sending it again from the start`,
            ),
          );
        if (this.#mode === 'bars') this.#startBar(event, event.size, event.heldBytes);
        return;
      case 'transfer-resumed':
        if (this.#mode === 'bars')
          this.#say(
            `${c.cyan('↻')} ${nameOf(event)}: resuming from ${formatBytes(event.fromBytes)} ` +
              c.dim(`(${percent(event.fromBytes, event.size)} already verified)`),
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
        this.#say(this.#finishedLine(event));
        this.#endBar(event);
        return;
      case 'transfer-failed':
        if (this.#mode === 'bars') this.#say(`${c.red('✗')} ${nameOf(event)} ${c.red(event.code)}`);
        this.#endBar(event);
        return;
      case 'entry-skipped':
        this.#say(c.yellow(`ferry: skipped ${event.path}: ${event.reason}`));
        return;
      default:
        return;
    }
  }

  /** Tells the user something outside the event stream (a skipped local entry, say); escaped like events. */
  note(line: string): void {
    if (this.#mode !== 'quiet') this.#say(this.#c.yellow(escapeForTerminal(line)));
  }

  /** Removes the bars; with a summary, prints it (success only: a failure prints its error instead). */
  close(summary?: TallySummary, verb = 'sent'): void {
    if (this.#multi) {
      this.#multi.update(); // flushes lines still buffered above the bars
      for (const live of this.#bars.values()) this.#multi.remove(live.bar);
      this.#bars.clear();
      this.#multi.stop();
      this.#multi = undefined;
    }
    if (summary && this.#mode !== 'quiet') this.#write(this.#summaryLine(summary, verb));
  }

  #startBar(subject: TransferSubject, size: number, heldBytes: number): void {
    const key = keyOf(subject);
    if (this.#bars.has(key)) return;
    this.#multi ??= new MultiBar(this.#barOptions());
    const speed = new SpeedMeter();
    speed.observe(heldBytes, this.#now());
    const bar = this.#multi.create(Math.max(size, 1), size === 0 ? 1 : heldBytes, {
      name: nameOf(subject),
      speed: undefined,
      eta: undefined,
    });
    this.#bars.set(key, { bar, speed, size });
  }

  #progress(subject: TransferSubject, verifiedBytes: number): void {
    const live = this.#bars.get(keyOf(subject));
    if (!live) return;
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

  #endBar(subject: TransferSubject): void {
    const key = keyOf(subject);
    const live = this.#bars.get(key);
    if (!live || !this.#multi) return;
    this.#bars.delete(key);
    this.#multi.remove(live.bar);
  }

  #barOptions(): Options {
    const c = this.#c;
    return {
      stream: this.#stream,
      hideCursor: true,
      clearOnComplete: true,
      linewrap: false,
      fps: 10,
      format: (_options: Options, params: Params, payload: BarPayload): string => {
        const filled = Math.round(params.progress * BAR_COLUMNS);
        const bar = c.cyan('█'.repeat(filled)) + c.dim('░'.repeat(BAR_COLUMNS - filled));
        const pct = `${Math.floor(params.progress * 100)}%`.padStart(4);
        const bytes = `${formatBytes(params.value)} / ${formatBytes(params.total)}`.padStart(21);
        const speed = formatRate(payload.speed).padStart(11);
        const eta =
          payload.eta === undefined || params.value >= params.total ? '' : `ETA ${formatEta(payload.eta)}`;
        return `${fit(payload.name, NAME_COLUMNS)} ${bar} ${pct} ${bytes} ${speed}  ${c.dim(eta)}`;
      },
    };
  }

  #finishedLine(event: Extract<TransferEvent, { type: 'transfer-finished' }>): string {
    const how = event.identical
      ? 'identical, skipped'
      : event.resumedBytes > 0
        ? `resumed from ${event.resumedBytes}`
        : event.direction === 'upload'
          ? 'sent'
          : 'received';
    const route =
      event.direction === 'upload'
        ? `${event.file} -> ${event.remotePath}`
        : `${event.remotePath} -> ${event.file}`;
    const line = `${route} (${event.size} bytes, ${how}) digest ${digestPrefix(event.digest)}`;
    return this.#mode === 'bars' ? `${this.#c.green('✓')} ${line}` : line;
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
    if (summary.digest !== undefined) parts.push(`digest ${digestPrefix(summary.digest)}`);
    const text = parts.join(', ');
    return this.#mode === 'bars' ? `${c.green('✓')} ${c.bold(text)}` : text;
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

/** Pads `text` to `columns`, or shortens it from the left with an ellipsis (the end of a path says most). */
function fit(text: string, columns: number): string {
  return text.length <= columns ? text.padEnd(columns) : `…${text.slice(text.length - columns + 1)}`;
}
