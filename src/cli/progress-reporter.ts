import type { Command } from 'commander';
import type { Logger } from 'pino';
import { FerryError, toFerryError, type ErrorCode } from '../errors/index.js';
import type { SkipKind } from '../transfer/index.js';
import { withCommandHints } from './command-hints.js';
import { errorMessage } from './error-lines.js';
import { keptPartialsNote } from './kept-partials-note.js';
import { parseMs } from './parse-option.js';
import type { TransferEvent } from '../index.js';
import { JsonEventWriter } from './json-events.js';
import { addLogFlags, logLevelOf, type LogFlags } from './log-level.js';
import { displayModeOf } from './display-mode.js';
import { ProgressDisplay } from './progress-display.js';
import { colorsFor } from './terminal-colors.js';
import { TransferTally, type TallySummary } from './progress-tally.js';

/** Output flags of `send` and `get`. */
export interface OutputFlags extends LogFlags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  /** A tree (`-r`): one line per failed or skipped file only, unless `--verbose`. */
  recursive?: boolean;
  /** Without a terminal: a progress line per file in flight at most this often (a duration; `0`: none). */
  progressEvery?: string;
}

/** How often a file in flight gets a progress line without a terminal: often enough for a CI's no-output limit. */
export const PLAIN_PROGRESS_EVERY = '30s';

/**
 * Adds `--json`, `--quiet`, `--verbose`, `--progress-every`, `--log-level` and `--log-file` to a transfer command. `tree`: the
 * command always works on trees (`sync`), so `--verbose` needs no `-r` there.
 */
export function addOutputFlags(command: Command, options: { tree?: boolean } = {}): Command {
  command
    .option('--json', 'newline-delimited JSON events on stdout (README: "JSON events") instead of bars')
    .option('-q, --quiet', 'print nothing on success')
    .option(
      '-v, --verbose',
      `${options.tree ? '' : 'with -r, '}a line for every file, not only for failed and skipped ones`,
    )
    .option(
      '--progress-every <duration>',
      'without a terminal (a pipe, a file, CI): a progress line per file in flight at most this often, so a long transfer shows it is alive; 0 for none',
      PLAIN_PROGRESS_EVERY,
    );
  return addLogFlags(command, 'silent; info with --log-file');
}

/**
 * What stops a run as a whole, never one file: the server refusing the client's key (it admits keys, not
 * files), and Ctrl-C. The files in flight are not named failed for it, nor listed as "not sent"; the error
 * line says what happened (and, for Ctrl-C, that the verified part is kept).
 */
const RUN_STOPS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['CLIENT_NOT_ALLOWED', 'ABORTED']);

/** A client logs nothing by default, and `info` and up to a `--log-file`. */
const CLIENT_LOG_LEVELS = { defaultLevel: 'silent', fileDefaultLevel: 'info' } as const;

/**
 * Everything a transfer command shows, fed from the one TransferEvent stream: the progress display on
 * stderr (bars on a terminal, plain lines elsewhere, nothing with `--quiet`), `--json` lines on stdout,
 * log lines (`--log-file`), and the closing summary.
 */
export class ProgressReporter {
  readonly #display: ProgressDisplay;
  readonly #json: JsonEventWriter | undefined;
  readonly #tally: TransferTally;
  /** Undefined until `run` (and for good when nothing is logged: pino is then never loaded). */
  #logger: Logger | undefined;
  readonly #logFlags: LogFlags;
  readonly #logLevel: string;
  #logEvent: (logger: Logger, event: TransferEvent) => void = () => undefined;
  readonly #verb: string;
  /** Where a stopped run's verified part stays: the receiver's side. */
  readonly #keptWhere: string;
  /**
   * A run of one file, not a tree (`planned`): when it fails its error line says it all. A tree of one file
   * keeps its lines: its directories and links may fail too, and the summary names each.
   */
  #oneFile = false;
  readonly #tree: boolean;

  /** The summary of the run that last succeeded (`run`), for a caller that closes with its own line. */
  succeeded: TallySummary | undefined;
  /**
   * Set by a run that did all it could but left out local files whose names the wire cannot carry: the
   * error the command ends with once it printed its closing line (exit 7, as rsync's 23 says "partial").
   */
  leftOut: FerryError | undefined;
  /** False: a successful run prints no closing line of its own (`sync` says it in its own). */
  readonly #closingLine: boolean;
  readonly #command: Command | undefined;
  readonly #hints: (err: unknown) => unknown;

  constructor(
    flags: OutputFlags,
    /**
     * `command`: the subcommand running, whose home the error's hints name (withCommandHints). `hints`: the
     * command's own next steps for an error of the run (an unknown host that reads as a local name, a full
     * disk's partial, the `ferry ls` of what is missing), added once, by `run`, to the error it throws and to
     * `--json`'s summary alike: added by the command after the run, the summary never had them.
     */
    options: {
      verb: 'sent' | 'received';
      now?: () => number;
      closingLine?: boolean;
      command?: Command;
      hints?: (err: unknown) => unknown;
    },
  ) {
    const now = options.now ?? Date.now;
    const stderr = process.stderr;
    this.#display = new ProgressDisplay({
      mode: flags.json ? 'quiet' : displayModeOf(stderr, { quiet: flags.quiet ?? false }),
      stream: stderr,
      colors: colorsFor(stderr),
      now,
      fileLines: !flags.recursive || (flags.verbose ?? false),
      progressEveryMs: parseMs(flags.progressEvery ?? PLAIN_PROGRESS_EVERY, '--progress-every'),
    });
    this.#json = flags.json ? new JsonEventWriter(process.stdout, now) : undefined;
    this.#tally = new TransferTally(now);
    // Checked here, before anything connects; the logger itself is made by `run`.
    this.#logFlags = flags;
    this.#logLevel = logLevelOf(flags, CLIENT_LOG_LEVELS);
    this.#verb = options.verb;
    this.#keptWhere = options.verb === 'sent' ? 'on the server' : 'locally';
    this.#tree = flags.recursive ?? false;
    this.#closingLine = options.closingLine ?? true;
    this.#command = options.command;
    this.#hints = options.hints ?? ((err) => err);
  }

  /** The `onEvent` callback to hand to `sendFiles`, `sendTree` or `getFiles`. */
  readonly onEvent = (event: TransferEvent): void => {
    this.#tally.add(event);
    if (this.#logger) this.#logEvent(this.#logger, event);
    this.#json?.write(event);
    if (event.type === 'planned') this.#oneFile = !this.#tree && event.files === 1;
    // The files in flight when the run stopped as a whole are reported failed with its code (--json keeps
    // them), but on the terminal they would blame a file for what concerns the run: the error line says it.
    // So does the error line of a run of one file, as scp's one line does: "failed: a -> a FILE_EXISTS...",
    // "sent 0 files, 1 failed", "not sent: a FILE_EXISTS" and the error said the same thing four times.
    if (event.type === 'transfer-failed' && (RUN_STOPS.has(event.code) || this.#oneFile)) return;
    this.#display.handle(event);
  };

  /** Ctrl-C's error: what was kept (on the server for an upload, locally for a download), and that the same command resumes from it. */
  interrupted(): FerryError {
    return new FerryError('ABORTED', 'interrupted', {
      hint: keptPartialsNote(this.#tally.keptPartials(), this.#keptWhere),
    });
  }

  /**
   * A run cut by the network (after its retries) says, as Ctrl-C does, what it kept for the same command to
   * resume from; any other error is left as it is.
   */
  withKeptNote(err: unknown): unknown {
    const error = toFerryError(err);
    const partials = this.#tally.keptPartials();
    if (error.category !== 'network' || error.remote || partials.every((partial) => partial.keptBytes === 0))
      return err;
    return error.withHint(keptPartialsNote(partials, this.#keptWhere));
  }

  /** A local entry left out (sendTree's `onSkip`). */
  readonly onSkip = (path: string, reason: string, kind?: SkipKind): void => {
    if (kind === 'unsendable-name') this.#tally.addUnsendable(path, reason);
    this.#logger?.info({ event: 'entry-skipped', path, reason }, 'entry skipped');
    if (this.#json) this.#json.skipped(path, reason, kind);
    else this.#display.skipped(path, reason);
  };

  /**
   * Runs the transfer, then closes the display and prints the summary. On failure the summary still says
   * what was stored and what failed when anything got that far; the error line is left to the caller.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#logLevel !== 'silent') {
      const { createLogger, logTransferEvent } = await import('./logger.js');
      this.#logger = createLogger(this.#logFlags, {
        role: 'client',
        ...CLIENT_LOG_LEVELS,
        terminalLine: (line) => this.#display.logLine(line),
      });
      this.#logEvent = logTransferEvent;
    }
    try {
      const result = await work();
      const summary = this.#tally.summary();
      this.succeeded = summary;
      this.leftOut = leftOutError(summary);
      this.#display.close(this.#closingLine ? summary : undefined, this.#verb);
      const left = this.leftOut;
      this.#json?.summary(
        summary,
        left ? { ok: false, code: left.code, message: errorMessage(left) } : { ok: true },
      );
      this.#logger?.info({ event: 'done', ...loggable(summary) }, 'done');
      return result;
    } catch (err) {
      const error = toFerryError(err);
      const summary = this.#tally.summary();
      // A stopped run summarises the files it finished; with none, the error line alone says it all.
      const stopped = RUN_STOPS.has(error.code);
      const oneFileFailed = this.#oneFile && summary.files === 0 && summary.failed === 1;
      const worthSaying = stopped ? summary.files > 0 : this.#tally.hasOutcomes && !oneFileFailed;
      this.#display.close(worthSaying ? summary : undefined, this.#verb);
      // The line the error ends with on stderr, what was kept and the command's hints included: the error
      // thrown is the one the summary says, so the two cannot differ.
      const hinted = error.code === 'ABORTED' ? err : await this.#hints(this.withKeptNote(err));
      // The hints as the stderr line gives them (`ferry --home DIR trust ...`): one rule, withCommandHints.
      const said =
        error.code === 'ABORTED' ? this.interrupted() : toFerryError(withCommandHints(hinted, this.#command));
      this.#json?.summary(summary, { ok: false, code: said.code, message: errorMessage(said) });
      this.#logger?.error({ event: 'done', code: error.code, ...loggable(summary) }, 'failed');
      throw hinted;
    }
  }
}

/**
 * The error of a run whose only failures are local files it could not name on the wire (every other
 * failure ends the run with its own error), naming the first and counting them all.
 */
function leftOutError(summary: TallySummary): FerryError | undefined {
  const [first] = summary.failedFiles;
  if (first === undefined) return undefined;
  const total = summary.files + summary.failed;
  return new FerryError('PATH_INVALID', `${first.message}; ${summary.failed} of ${total} files not sent`, {
    subject: first.file,
  });
}

/**
 * The summary as logs may carry it: counts, and the failed files by remote path and code; never local
 * paths or messages (logs say nothing about this machine's files, README "Logs").
 */
function loggable(summary: TallySummary): Record<string, unknown> {
  const { storedFiles: _stored, identicalFiles: _identical, failedFiles, ...counts } = summary;
  return { ...counts, failedFiles: failedFiles.map((f) => ({ remotePath: f.remotePath, code: f.code })) };
}
