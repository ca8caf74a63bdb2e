import type { TransferEvent, TransferSubject } from '../index.js';
import type { DisplayMode } from './display-mode.js';
import { ProgressBars, nameOf } from './progress-bars.js';
import { digestPrefix, formatBytes, formatDuration, formatRate } from './progress-format.js';
import { averageRate } from './progress-speed.js';
import { fitAround, fitRoute, visibleWidth } from './progress-line.js';
import { wrapParts } from './wrap-parts.js';
import { noteLines } from './note-lines.js';
import { DEFAULT_COLUMNS, lineWidth } from './terminal-width.js';
import type { TallySummary } from './progress-tally.js';
import { escapeForTerminal, escapeStringFields } from './escape-for-terminal.js';
import type { Colors } from './terminal-colors.js';

/** Failed files named again in the closing lines; the rest are counted (all are in `--json`). */
const MAX_FAILED_LINES = 20;

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
  /**
   * Plain lines only (no terminal): a line for a file in flight at most this often, from its progress
   * events (a CI that kills a job silent for 10 minutes sees it alive); 0 or absent for none.
   */
  progressEveryMs?: number;
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
  readonly #bars: ProgressBars;
  readonly #progressEveryMs: number;
  /** Plain lines: each file in flight (routeOf), when it last had a progress line and its bytes then. */
  readonly #lastProgressLine = new Map<string, { at: number; bytes: number }>();

  constructor(options: ProgressDisplayOptions) {
    this.#progressEveryMs = options.progressEveryMs ?? 0;
    this.#mode = options.mode;
    this.#stream = options.stream;
    this.#c = options.colors;
    this.#now = options.now ?? Date.now;
    this.#fileLines = options.fileLines ?? true;
    this.#bars = new ProgressBars({
      stream: this.#stream,
      colors: this.#c,
      now: this.#now,
      width: () => this.#width ?? DEFAULT_COLUMNS - 1,
    });
  }

  /** The widest a line may be under bars: lines above the bars and the bars themselves must fit in it. */
  get #width(): number | undefined {
    return this.#mode === 'bars' ? lineWidth(this.#stream) : undefined;
  }

  /** Shows one event; its names, paths and messages are escaped for the terminal first. */
  handle(rawEvent: TransferEvent): void {
    if (this.#mode === 'quiet') return;
    const event = escapeStringFields(rawEvent);
    const c = this.#c;
    switch (event.type) {
      case 'planned':
        if (this.#mode === 'bars' && event.files > 1) this.#bars.startTotal(event.files, event.bytes);
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
        if (this.#mode === 'bars') this.#bars.start(event, event.size, event.heldBytes);
        else if (this.#progressEveryMs > 0)
          this.#lastProgressLine.set(routeOf(event), { at: this.#now(), bytes: event.heldBytes });
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
        this.#bars.progress(event, event.verifiedBytes);
        this.#plainProgress(event);
        return;
      case 'stalled':
        this.#sayNote(`ferry: STALLED: ${event.message}`);
        return;
      case 'retrying':
        this.#sayNote(
          `ferry: ${event.code}: retrying in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt})`,
        );
        return;
      // The line goes first: removing the bar redraws, which prints the line above the remaining bars.
      case 'transfer-finished':
        if (this.#fileLines) this.#say(this.#finishedLine(event));
        this.#bars.end(event, event.size, true);
        this.#lastProgressLine.delete(routeOf(event));
        return;
      case 'transfer-failed':
        this.#lastProgressLine.delete(routeOf(event));
        this.#say(this.#failedLine(event, event.code, event.message));
        this.#bars.end(event, 0, false);
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

  /**
   * Plain lines: `a.iso -> a.iso: 1.20 GiB of 4.00 GiB (30%), 41.0 MiB/s` once `progressEveryMs` passed since
   * the file started or last had one, with the speed since then. Driven by progress events, no timer: a
   * stalled session has its own line (`stalled`).
   */
  #plainProgress(event: Extract<TransferEvent, { type: 'progress' }>): void {
    const route = routeOf(event);
    const last = this.#lastProgressLine.get(route);
    if (last === undefined) return; // not a plain display, or no lines asked for
    const now = this.#now();
    if (now - last.at < this.#progressEveryMs) return;
    this.#lastProgressLine.set(route, { at: now, bytes: event.verifiedBytes });
    const rate = ((event.verifiedBytes - last.bytes) * 1000) / (now - last.at);
    this.#say(
      `${route}: ${formatBytes(event.verifiedBytes)} of ${formatBytes(event.size)} (${percent(event.verifiedBytes, event.size)}), ${formatRate(rate)}`,
    );
  }

  /** Tells the user something outside the event stream (a skipped local entry, say); escaped like events. */
  note(line: string): void {
    if (this.#mode === 'quiet') return;
    const safe = escapeForTerminal(line);
    const width = this.#width;
    this.#say(this.#c.yellow(width === undefined ? safe : fitAround({ head: '', path: safe }, width)));
  }

  /**
   * A log line (already escaped and coloured, `pretty-log-stream.ts`) above the bars, so a redraw neither
   * runs into it nor erases it; in every mode, `--quiet` included: logs were asked for.
   */
  logLine(line: string): void {
    if (!this.#bars.log(line)) this.#write(line);
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
    this.#bars.stop();
    if (!summary || this.#mode === 'quiet') return;
    this.#write(this.#summaryLine(summary, verb));
    const c = this.#c;
    for (const failure of summary.failedFiles.slice(0, MAX_FAILED_LINES))
      this.#write(
        `${this.#mode === 'bars' ? `${c.red('✗')} ` : ''}not ${verb}: ${escapeForTerminal(failure.file ?? failure.remotePath ?? '')} ${c.red(failure.code)}`,
      );
    if (summary.failedFiles.length > MAX_FAILED_LINES)
      this.#write(
        `... and ${summary.failedFiles.length - MAX_FAILED_LINES} more failed (--json lists them all)`,
      );
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
        : routeOf({ file, remotePath, direction: subject.direction ?? 'upload' });
    return `failed: ${route}${tail}`;
  }

  #finishedLine(event: Extract<TransferEvent, { type: 'transfer-finished' }>): string {
    const verb = event.direction === 'upload' ? 'sent' : 'received';
    // A delta upload names no reusedBytes: what it did not send came from the server's old file.
    const reused =
      event.reusedBytes ??
      (event.direction === 'upload' ? event.size - event.resumedBytes - event.transferredBytes : 0);
    const how = event.identical
      ? 'identical, skipped'
      : event.resumedBytes > 0
        ? `resumed from ${formatBytes(event.resumedBytes)}`
        : reused > 0
          ? `${verb} ${formatBytes(event.transferredBytes)}, ${formatBytes(reused)} from the old file`
          : verb;
    const route =
      event.direction === 'upload'
        ? `${event.file} -> ${event.remotePath}`
        : `${event.remotePath} -> ${event.file}`;
    // Sizes as the summary and the bars say them ('4.00 GiB'); --json keeps the exact numbers.
    const tail = ` (${formatBytes(event.size)}, ${how})`;
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
    const rate = averageRate(summary.transferredBytes, summary.durationMs);
    const files = `${summary.files} file${summary.files === 1 ? '' : 's'}`;
    if (summary.identical > 0 && summary.identical === summary.files && summary.failed === 0) {
      // Nothing to move, said so: "received 0 of 1 file, 6 B in 16 ms" read as a failed download, and an
      // upload's "avg 250 B/s" as work done (a one-chunk file's bytes go out with its offer, PROTOCOL.md
      // §5.8, and the server drops them; --json still counts them in transferredBytes). The bytes were hashed
      // and compared, so the time is what that took.
      return this.#summaryText(c.green('✓'), [
        `nothing to ${verb === 'received' ? 'receive' : 'send'}: ${files} already identical`,
        `${formatBytes(summary.bytes)} checked in ${formatDuration(summary.durationMs)}`,
        ...(summary.digest === undefined ? [] : [`digest ${digestPrefix(summary.digest)}`]),
      ]);
    }
    // Identical files were verified in place and nothing of them was sent: "sent 3 files, 3 identical" said
    // otherwise. The count moved comes first, then how many of them were already there.
    const parts = [
      summary.identical > 0 ? `${verb} ${summary.files - summary.identical} of ${files}` : `${verb} ${files}`,
      `${formatBytes(summary.bytes)} in ${formatDuration(summary.durationMs)}`,
    ];
    // A resume, a delta or an identical upload moves less than the files hold: "20.0 MiB in 114 ms, avg
    // 561 KiB/s" read as a contradiction. The bytes that moved are named with the speed they moved at.
    // No speed below MIN_RATE_BYTES (averageRate): the bytes that moved are still named.
    if (summary.transferredBytes < summary.bytes && summary.transferredBytes > 0)
      parts.push(
        `${formatBytes(summary.transferredBytes)} of it on the wire${rate === undefined ? '' : ` at ${formatRate(rate)}`}`,
      );
    else if (rate !== undefined) parts.push(`avg ${formatRate(rate)}`);
    if (summary.resumedBytes > 0) parts.push(`${formatBytes(summary.resumedBytes)} resumed`);
    if (summary.identical > 0)
      parts.push(
        `${summary.identical} already identical, left as ${summary.identical === 1 ? 'it was' : 'they were'}`,
      );
    if (summary.failed > 0) parts.push(`${summary.failed} failed`);
    if (summary.digest !== undefined) parts.push(`digest ${digestPrefix(summary.digest)}`);
    return this.#summaryText(summary.failed > 0 ? c.yellow('!') : c.green('✓'), parts);
  }

  /**
   * The summary's `parts`, one line as it is elsewhere (a file or pipe has no width); on a bar display after
   * `mark`, in bold, and wrapped between parts to the terminal's width (the later lines under the text), so
   * the digest is never split or cut.
   */
  #summaryText(mark: string, parts: readonly string[]): string {
    const width = this.#width;
    if (width === undefined) return parts.join(', ');
    const lead = `${mark} `;
    const indent = ' '.repeat(visibleWidth(lead));
    return wrapParts(parts, width - visibleWidth(lead))
      .map((line, index) => `${index === 0 ? lead : indent}${this.#c.bold(line)}`)
      .join('\n');
  }

  /**
   * A warning above the bars, wrapped between words to their width as an error line is (`noteLines`): a
   * stall's `ferry: STALLED: no progress within the stall timeout: no bytes moved for 30000 ms` is 81
   * columns. Plain, one line.
   */
  #sayNote(text: string): void {
    for (const line of noteLines(text, this.#width)) this.#say(this.#c.yellow(line));
  }

  /** A line above the bars (or plain when there are none). */
  #say(line: string): void {
    if (this.#mode === 'quiet') return;
    if (!this.#bars.log(line)) this.#write(line);
  }

  #write(line: string): void {
    this.#stream.write(`${line}\n`);
  }
}

/** A file as a plain line names it: from where to where it travels. */
function routeOf(subject: TransferSubject): string {
  return subject.direction === 'download'
    ? `${subject.remotePath} -> ${subject.file}`
    : `${subject.file} -> ${subject.remotePath}`;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '100%' : `${Math.floor((part / whole) * 100)}%`;
}
