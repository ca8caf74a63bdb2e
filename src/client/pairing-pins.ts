import { FerryError } from '../errors/index.js';
import { formatFerryId } from '../crypto/index.js';
import { lookupServer, pinServer, recordKeyCommitment } from '../home/index.js';
import type { PairWithServerOptions } from './pair-with-server.js';

/**
 * The pinning policy of pairing (PROTOCOL.md §12.6) over a ferry home's known servers, as `ferry pair` applies
 * it: an unknown server is let through (the code authenticates it), a server pinned at `address` with another
 * key is refused before our key is revealed (SERVER_KEY_CHANGED: pairing never replaces a pin), and the key
 * is pinned only once PAIR_DONE proved the same code. Spread into {@link pairWithServer}'s options.
 */
export function pairingPins(
  homeDir: string,
  address: string,
): Pick<PairWithServerOptions, 'verifyServer' | 'onPaired' | 'onKeyCommit'> {
  return {
    verifyServer: async (publicKey) => {
      const pinned = await lookupServer(homeDir, address);
      const offered = formatFerryId(publicKey);
      if (pinned !== undefined && pinned !== offered) {
        // The command as the hint, as for any changed key: the CLI names the home it read in it.
        throw new FerryError(
          'SERVER_KEY_CHANGED',
          `pinned to ferry id ${pinned} but offered ${offered}; pairing never ` +
            'replaces a pin. Someone may be intercepting the connection',
          {
            subject: address,
            hint: `only if the server operator confirms the new id, run \`ferry trust ${address} ${offered}\``,
          },
        );
      }
    },
    onPaired: async (publicKey) => {
      await pinServer(homeDir, { address, id: formatFerryId(publicKey) });
    },
    // PROTOCOL.md §13.2: the pairing session's commitment is recorded with the pin it just made.
    onKeyCommit: async (commitment, publicKey) => {
      await recordKeyCommitment(homeDir, { address, pinnedKey: publicKey, commitment });
    },
  };
}
