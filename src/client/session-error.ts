import { FerryError, codeFromWire } from '../errors/index.js';
import { CLUSTER_REFUSAL_DETAIL, type ErrorMessage } from '../protocol/index.js';
import { remoteName } from './remote-name.js';
import type { ServerAddress } from './server-address.js';

/**
 * The error a session-level ERROR (ref 0) from the server ends the session with: the server's code and
 * detail, marked remote; a refusal of this client says what its operator can run to let it in, and in which
 * of the server machine's homes (`serverId`: the key the server proved in the handshake), or, refused by a
 * cluster's shared list, in its etcd.
 */
export function sessionErrorFrom(
  message: ErrorMessage,
  session: { clientId: string; serverId: string; address: ServerAddress },
): FerryError {
  const code = codeFromWire(message.code);
  if (code === 'CLIENT_NOT_ALLOWED') {
    // The refusal carries nothing (PROTOCOL.md §3.2.2): an unknown key learns no path, not even which home's
    // allow-list refused it. It needs none to say which: each home has its own identity, and the server
    // proved its key in the handshake, so the home to allow in is the one whose `ferry id` is that key (an
    // operator with several homes, `npm start`'s ./.ferry-home and ~/.ferry, allowed in the other).
    // A cluster's server says its list is the cluster's (§3.2.2), which no home's `ferry allow` changes: that
    // one detail, known here, picks the hint; a detail of another text is never shown (the server's words).
    const id = session.clientId;
    const cluster = message.detail === CLUSTER_REFUSAL_DETAIL;
    return new FerryError(code, cluster ? CLUSTER_REFUSAL_DETAIL : undefined, {
      remote: true,
      subject: remoteName(session.address, ''),
      hint: cluster
        ? `this client is ${id}; run \`ferry allow ${id} --coordination etcd://HOST:PORT/PREFIX\` with the cluster's etcd, as its servers' \`--coordination\` names it, or pair with \`ferry pair\` and a code from \`ferry invite --coordination ...\``
        : `this client is ${id}; on the server run \`ferry allow ${id}\` in the home whose \`ferry id\` is ${session.serverId}, or pair with \`ferry pair\` and a code from the server's \`ferry invite\``,
    });
  }
  return new FerryError(code, message.detail || undefined, { remote: true });
}
