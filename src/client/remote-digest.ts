import { Buffer } from 'node:buffer';
import { FerryError, toFerryError } from '../errors/index.js';
import { DEFAULT_CHUNK_BYTES, HASH_BYTES } from '../protocol/index.js';
import type { ClientSession } from './client-session.js';

/** A remote file's size and digest (PROTOCOL.md §7.2), as GET_OFFER and GET_END of a VERIFY_ONLY get say. */
export interface RemoteDigest {
  size: number;
  digest: Buffer;
}

/**
 * Asks the server for the size and digest of the file at `path` without its data: a GET_REQUEST with
 * VERIFY_ONLY (PROTOCOL.md §5.11.1), answered by GET_OFFER and GET_END only (§5.11.2). What `get` uses to
 * compare an existing file, and `sync --checksum` to compare content: no new hash, the server's hash cache
 * answers. The client states nothing about its own file. Any other answer breaks §5.11.2 and fails the
 * session (MESSAGE_MALFORMED / MESSAGE_UNEXPECTED); an ERROR for the ref rejects with its code.
 * With `expectedSize` (the size the caller compares with), an offer of another size answers at once with an
 * empty digest, which equals none: the GET_END is not waited for, since the size a server offers buys it time
 * to hash (`progress-watchdog.ts`) and a file of another size differs whatever its digest.
 */
export async function remoteDigest(
  session: ClientSession,
  path: string,
  expectedSize?: number,
): Promise<RemoteDigest> {
  const ref = session.openRef();
  try {
    await session.send({
      type: 'GET_REQUEST',
      ref,
      chunkBytes: DEFAULT_CHUNK_BYTES,
      verifyOnly: true,
      heldSize: 0,
      haveDigest: Buffer.alloc(HASH_BYTES),
      ranges: [],
      path,
    });
    const offer = await session.take(ref);
    const broken = (error: FerryError): never => {
      session.close(error);
      throw error;
    };
    if (offer.type !== 'GET_OFFER')
      return broken(new FerryError('MESSAGE_UNEXPECTED', `${offer.type} in answer to a verify-only get`));
    if (offer.heldAccepted || offer.striped)
      return broken(new FerryError('MESSAGE_MALFORMED', 'get_offer: flags set for a verify-only get'));
    if (expectedSize !== undefined && offer.size !== expectedSize)
      return { size: offer.size, digest: Buffer.alloc(0) };
    const end = await session.take(ref);
    if (end.type !== 'GET_END')
      return broken(new FerryError('MESSAGE_UNEXPECTED', `${end.type} in answer to a verify-only get`));
    return { size: offer.size, digest: end.fileDigest };
  } catch (err) {
    throw toFerryError(err);
  } finally {
    session.closeRef(ref);
  }
}
