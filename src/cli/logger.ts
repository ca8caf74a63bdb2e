import { pino, type Logger } from 'pino';
import type { TransferEvent } from '../index.js';
import { openLogFile } from './log-file.js';
import { logLevelOf, type LogFlags } from './log-level.js';
import { digestPrefix } from './progress-format.js';
import { escapeJsonText } from './escape-for-terminal.js';
import { colorsFor } from './terminal-colors.js';
import { prettyLogStream } from './pretty-log-stream.js';
import { terminalLineWidth } from './terminal-width.js';

export { LOG_LEVELS, addLogFlags, type LogFlags } from './log-level.js';

/**
 * A pino logger writing JSON lines synchronously (no worker transports, so nothing is lost on exit) to
 * `--log-file` (appended, created 0600, never through a link at its name: `openLogFile`) or stderr; on a
 * terminal, stderr gets readable lines instead, a record's fields wrapped to its width
 * (`pretty-log-stream.ts`; a file, a pipe or a journal keeps one JSON line per record). Without
 * `--log-level`, `defaultLevel` applies; a client passes `silent` and `info`-with-a-file, so its terminal
 * shows the progress display, not log lines.
 */
export function createLogger(
  flags: LogFlags,
  options: {
    role: 'server' | 'client';
    defaultLevel: string;
    fileDefaultLevel?: string;
    /**
     * Where a terminal's readable lines go instead of straight to stderr: a client's progress display, which
     * prints them above its bars (written between two redraws, a line landed on the bar's own row).
     */
    terminalLine?: (line: string) => void;
  },
): Logger {
  const level = logLevelOf(flags, options);
  const destination =
    flags.logFile !== undefined
      ? pino.destination({ fd: openLogFile(flags.logFile), sync: true })
      : // A person reads a terminal; a pipe, a file or a journal gets JSON lines.
        process.stderr.isTTY
        ? prettyLogStream(
            options.terminalLine ?? ((line) => process.stderr.write(`${line}\n`)),
            colorsFor(process.stderr),
            () => terminalLineWidth(process.stderr),
          )
        : pino.destination({ dest: 2, sync: true });
  // Log lines carry names from the other side: kept exact as JSON, without raw control characters (the
  // terminal formatter escapes what it prints again, after parsing).
  return pino({ level, base: { role: options.role }, hooks: { streamWrite: escapeJsonText } }, destination);
}

/**
 * Logs one client TransferEvent. Only what identifies a transfer without revealing this machine: the
 * remote path, sizes, codes and digest prefixes; never the local path, never an error message (messages
 * may quote local paths), never a key.
 */
export function logTransferEvent(logger: Logger, event: TransferEvent): void {
  switch (event.type) {
    case 'session-opened':
      logger.info({ event: event.type, server: event.serverId, attempt: event.attempt }, 'session opened');
      return;
    case 'transfer-started':
      logger.debug(
        {
          event: event.type,
          direction: event.direction,
          remotePath: event.remotePath,
          size: event.size,
          heldBytes: event.heldBytes,
          restarted: event.restarted,
        },
        'transfer started',
      );
      return;
    case 'transfer-resumed':
      logger.info(
        {
          event: event.type,
          direction: event.direction,
          remotePath: event.remotePath,
          fromBytes: event.fromBytes,
        },
        'transfer resumed',
      );
      return;
    case 'progress':
      logger.trace(
        {
          event: event.type,
          remotePath: event.remotePath,
          verifiedBytes: event.verifiedBytes,
          size: event.size,
        },
        'progress',
      );
      return;
    case 'stalled':
      logger.warn({ event: event.type, attempt: event.attempt }, 'session stalled');
      return;
    case 'retrying':
      logger.warn(
        { event: event.type, code: event.code, attempt: event.attempt, delayMs: event.delayMs },
        'retrying',
      );
      return;
    case 'transfer-finished':
      logger.info(
        {
          event: event.type,
          direction: event.direction,
          remotePath: event.remotePath,
          size: event.size,
          transferredBytes: event.transferredBytes,
          resumedBytes: event.resumedBytes,
          identical: event.identical,
          digest: digestPrefix(event.digest),
        },
        'transfer verified',
      );
      return;
    case 'transfer-failed':
      logger.error(
        { event: event.type, direction: event.direction, remotePath: event.remotePath, code: event.code },
        'transfer failed',
      );
      return;
    case 'entry-created':
      logger.debug({ event: event.type, kind: event.kind, remotePath: event.remotePath }, 'entry created');
      return;
    case 'entry-failed':
      logger.error(
        { event: event.type, kind: event.kind, remotePath: event.remotePath, code: event.code },
        'entry failed',
      );
      return;
    case 'entry-skipped':
      logger.info({ event: event.type, path: event.path, reason: event.reason }, 'entry skipped');
      return;
  }
}
