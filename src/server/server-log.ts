import type { Logger } from 'pino';
import type { ServerEvent, ServerEvents, SessionPeer } from './server-events.js';
import { REFUSAL_LOG_PER_SECOND, RefusalLogBudget } from './refusal-log-budget.js';

/**
 * Makes `logger` a subscriber of `events`: the server's log lines about sessions, refusals and transfers
 * are built from its ServerEvents alone, as the client's are from its TransferEvents
 * (`cli/logger.ts`), so the log and the dashboard can never tell two stories. Returns the unsubscribe.
 */
export function logServerEvents(events: ServerEvents, logger: Logger): () => void {
  const refusals = new RefusalLogBudget();
  const listener = (event: ServerEvent): void => logServerEvent(logger, event, { refusals });
  events.on('event', listener);
  return () => events.off('event', listener);
}

/** Who a line is about, as every session's lines carry it: address, short ID, allow-list name. */
function peerFields(peer: SessionPeer): Record<string, unknown> {
  return {
    session: peer.sessionId,
    remote: peer.address,
    peer: peer.peerId,
    client: peer.clientName,
  };
}

/**
 * Logs one ServerEvent. What identifies a session or a transfer without revealing a secret: the client's
 * short ID and address, remote paths (server paths relative to the root), sizes, codes and digest
 * prefixes; never a key, never file content, never an error message from the other side. With `refusals`,
 * a client's refused operations past its budget are counted on their session's line instead of logged.
 */
export function logServerEvent(
  logger: Logger,
  event: ServerEvent,
  { refusals }: { refusals?: RefusalLogBudget } = {},
): void {
  switch (event.type) {
    case 'session-opened':
      logger.debug({ event: event.type, ...peerFields(event) }, 'session opened');
      return;
    case 'session-refused':
    case 'session-closed': {
      const result = event.type === 'session-refused' ? event.code : event.result;
      // Only a peer whose key was seen was refused by a decision (allow-list, per-client limit, pairing);
      // a connection that never finished its handshake gets its session line alone.
      if (event.type === 'session-refused' && event.peerId !== undefined)
        logger.warn(
          { event: 'refused', code: event.code, ...peerFields(event) },
          event.code === 'CLIENT_NOT_ALLOWED' ? 'client refused' : 'session refused',
        );
      const refusalsNotLogged = refusals?.end(event, event.time) ?? 0;
      logger.info(
        {
          event: 'session',
          ...peerFields(event),
          result,
          ...(refusalsNotLogged > 0 ? { refusalsNotLogged } : {}),
          filesReceived: event.filesReceived,
          bytesReceived: event.bytesReceived,
          filesSent: event.filesSent,
          bytesSent: event.bytesSent,
          durationMs: event.durationMs,
        },
        'session closed',
      );
      return;
    }
    case 'operation-refused': {
      const decision = refusals?.take(event, event.time) ?? 'log';
      if (decision === 'notice')
        logger.warn(
          { event: 'refusals-not-logged', ...peerFields(event) },
          `further refusals of this session past ${REFUSAL_LOG_PER_SECOND} a second are counted on its session line, not logged`,
        );
      if (decision !== 'log') return;
      logger.warn(
        {
          event: 'refused',
          ...peerFields(event),
          ref: event.ref,
          code: event.code,
          // What the wire may not carry (PROTOCOL.md §5.1), so an operator can tell which file a refusal was
          // about and why: the requested path, the server's own file, the errno (docs/SECURITY.md).
          path: event.path,
          file: event.file,
          errno: event.errno,
          detail: event.detail,
        },
        'operation refused',
      );
      return;
    }
    case 'transfer-started': {
      const { transfer } = event;
      logger.info(
        {
          event: 'transfer-start',
          ...peerFields(transfer),
          ref: transfer.ref,
          direction: transfer.direction,
          path: transfer.path,
          size: transfer.size,
          heldBytes: event.heldBytes,
          restarted: event.restarted,
          ...(transfer.delta === true ? { delta: true } : {}),
        },
        `${transfer.direction} started`,
      );
      return;
    }
    case 'progress':
      logger.trace(
        {
          event: event.type,
          ...peerFields(event.transfer),
          ref: event.transfer.ref,
          direction: event.transfer.direction,
          verifiedBytes: event.verifiedBytes,
          size: event.transfer.size,
        },
        'progress',
      );
      return;
    case 'transfer-finished': {
      const { transfer } = event;
      const upload = transfer.direction === 'upload';
      logger.info(
        {
          event: event.identical ? 'transfer-identical' : 'transfer-done',
          ...peerFields(transfer),
          ref: transfer.ref,
          direction: transfer.direction,
          path: transfer.path,
          size: transfer.size,
          transferredBytes: event.transferredBytes,
          digest: event.digest.slice(0, 16),
          durationMs: event.durationMs,
        },
        event.identical
          ? `${transfer.direction} skipped: identical`
          : upload
            ? 'upload verified'
            : 'download sent',
      );
      return;
    }
    case 'transfer-failed':
      logger.warn(
        {
          event: event.type,
          ...peerFields(event.transfer),
          ref: event.transfer.ref,
          direction: event.transfer.direction,
          path: event.transfer.path,
          code: event.code,
        },
        `${event.transfer.direction} failed`,
      );
      return;
    case 'entry-removed':
      logger.info(
        { event: event.type, ...peerFields(event), ref: event.ref, path: event.path, kind: event.kind },
        `${event.kind} removed`,
      );
      return;
    case 'attributes-set':
      logger.info(
        {
          event: event.type,
          ...peerFields(event),
          ref: event.ref,
          path: event.path,
          mode: `0${event.mode.toString(8)}`,
          mtimeMs: event.mtimeMs,
        },
        'mode and mtime set',
      );
      return;
  }
}
