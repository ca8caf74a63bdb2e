import { FerryError, codeFromWire } from '../errors/index.js';
import type { ErrorMessage } from '../protocol/index.js';
import { remoteName } from './remote-name.js';
import type { ServerAddress } from './server-address.js';

/**
 * The error a session-level ERROR (ref 0) from the server ends the session with: the server's code and
 * detail, marked remote; a refusal of this client says what its operator can run to let it in.
 */
export function sessionErrorFrom(
  message: ErrorMessage,
  session: { clientId: string; address: ServerAddress },
): FerryError {
  const code = codeFromWire(message.code);
  if (code === 'CLIENT_NOT_ALLOWED') {
    // The refusal carries nothing (PROTOCOL.md §3.2.2); the next step needs our ID, which we know.
    const id = session.clientId;
    return new FerryError(code, undefined, {
      remote: true,
      subject: remoteName(session.address, ''),
      hint: `this client is ${id}; on the server run \`ferry allow ${id}\`, or pair with \`ferry pair\` and a code from the server's \`ferry invite\``,
    });
  }
  return new FerryError(code, message.detail || undefined, { remote: true });
}
