/**
 * What one session of a server is doing now (`FerryServer.sessionStates`): for a test or an operator asking
 * why a session is still there, above all one that outlived its connection (a resource the client no longer
 * pays for). Names no path and no key: the client's address, the message type and ref it handles.
 */
export interface SessionState {
  /** The session's number on this server (`SessionPeer.sessionId`). */
  readonly sessionId: number;
  /** The client's `host:port`. */
  readonly address: string;
  /**
   * What the session's run awaits: `handshake`, `admission`, `refusal` (its ERROR sent, lingering for the
   * client's close), `next message`, a message it handles (`PUT_BATCH ref 3`), `reporting TIMEOUT`, or a
   * step of its end (`end: uploads`, `end: batches`, `end: downloads`, `end: revoke`).
   */
  readonly phase: string;
  /** How long it has been in `phase`, in ms. */
  readonly phaseMs: number;
  /** Whether its socket is still open: a session whose connection closed should be ending. */
  readonly connection: 'open' | 'closed';
  /** Work it runs beside its receive loop, each still to settle. */
  readonly background: {
    /** The upload receiving data now (`partial ref 5`), if any. */
    readonly upload: string | undefined;
    /** Uploads finishing (fsync, rename) behind the loop. */
    readonly finishes: number;
    /** Batches being placed, and whether one is still being received. */
    readonly batches: number;
    readonly batchOpen: boolean;
    /** Downloads queued or being sent. */
    readonly downloads: number;
  };
}
