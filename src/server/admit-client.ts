import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FerryError, toFerryError } from '../errors/index.js';
import { MODE_NORMAL, type HandshakeMode, type SecureChannel } from '../channel/index.js';
import type { ClientGrant, SessionContext } from './session-io.js';
import { sourceOf } from './handshake-rate-limit.js';

/** One handshaken client waiting to be admitted. */
export interface AdmissionAttempt {
  /** The handshake's mode: the allow-list's (normal) or pairing's (PROTOCOL.md §12.5). */
  readonly mode: HandshakeMode;
  readonly socket: Socket;
  readonly log: Logger;
  /** When the connection was accepted: pairing ends within the handshake timeout counted from it. */
  readonly acceptedAt: number;
  readonly signal: AbortSignal;
}

/**
 * Admission (PROTOCOL.md §3.2.2), after the handshake and before a single record of the client is read: the
 * allow-list's grant (or pairing's, §12.5), then room among the client's sessions (`ConnectionGate`). A
 * refusal is returned, not thrown, for the session to send as its coded ERROR with ref 0 and end cleanly
 * (`endSessionWithError`), so the client reads the code instead of a reset; pairing sends its own and throws.
 */
export async function admitClient(
  ctx: SessionContext,
  channel: SecureChannel,
  attempt: AdmissionAttempt,
): Promise<ClientGrant | FerryError> {
  // Stop 44: the home whose allow-list (or invites, for a pairing) the lookup reads is still the directory the
  // start checked: a replacement's would admit (or pair) whom it names.
  if (ctx.homeServed !== undefined && !(await ctx.homeServed.unmoved()))
    return movedSinceStart(attempt.log, 'home');
  const looked =
    attempt.mode === MODE_NORMAL
      ? await authorize(ctx, channel)
      : // PROTOCOL.md §12.5: pairing instead of the allow-list; it throws after its own ERROR.
        await ctx.pairing?.admit({
          channel,
          serverPublicKey: ctx.identity.publicKey,
          log: attempt.log,
          acceptedAt: attempt.acceptedAt,
          timeoutMs: ctx.handshakeTimeoutMs,
          source: sourceOf(attempt.socket.remoteAddress ?? ''),
          signal: attempt.signal,
        });
  // PROTOCOL.md §3.2.2: the allow-list cannot be read (admit nobody on a copy that may be stale), or
  // refuses the key with a detail for the client (a cluster's list).
  if (looked instanceof FerryError) return looked;
  // PROTOCOL.md §3.2.2: refuse before reading a single record.
  if (!looked) return new FerryError('CLIENT_NOT_ALLOWED');
  // Stop 44: the root is still the directory the start checked (`DirectoryIdentity`), or no one is admitted;
  // after the lookup, so an unknown key learns nothing of it.
  if (ctx.rootServed !== undefined && !(await ctx.rootServed.unmoved()))
    return movedSinceStart(attempt.log, 'root');
  if (!ctx.gate.authenticated(attempt.socket, channel.remotePublicKey))
    return new FerryError('SERVER_BUSY', 'too many sessions for this client');
  return looked;
}

/**
 * The allow-list lookup (PROTOCOL.md §3.2.2). A lookup that cannot be made (a cluster's etcd unreachable)
 * fails closed: SERVER_BUSY is returned, for the session to send as its coded, retryable ERROR and end the
 * session cleanly, so the client retries instead of reading a reset. A CLIENT_NOT_ALLOWED thrown (a
 * cluster's refusal, with its detail) is returned the same way.
 */
async function authorize(
  ctx: SessionContext,
  channel: SecureChannel,
): Promise<ClientGrant | FerryError | undefined> {
  try {
    return await ctx.authorize(channel.remotePublicKey);
  } catch (err) {
    const error = toFerryError(err);
    // A refusal with a detail for the client (a cluster's list, PROTOCOL.md §3.2.2) is sent as it is.
    if (error.code === 'SERVER_BUSY' || error.code === 'CLIENT_NOT_ALLOWED') return error;
    throw error;
  }
}

/**
 * The refusal of every session once the server's root, or the home whose allow-list and invites it re-reads,
 * is no longer the directory the start checked (stop 44): INTERNAL for the client, whose wire detail is empty
 * (PROTOCOL.md §3.2.2, §5.1), and the reason for the operator's log, until a restart judges the new one.
 */
function movedSinceStart(log: Logger, what: 'root' | 'home'): FerryError {
  log.error(
    { event: `${what}-moved` },
    `the server ${what} is no longer the directory the server started on: every session is refused until the server is restarted`,
  );
  return new FerryError('INTERNAL', `the server ${what} moved since the server started`);
}
