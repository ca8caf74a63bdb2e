import { performance } from 'node:perf_hooks';
import { FerryError } from '../errors/index.js';
import { HandshakeState, SessionCipher, generateKeyPair } from '../crypto/index.js';
import {
  MODE_NORMAL,
  NOISE_PROTOCOL_NAME,
  decodeClientHello,
  decodeEmptyHello,
  encodeClientHello,
  encodeEmptyHello,
} from '../protocol/index.js';

/** Handshakes `warmHandshake` runs by default: the second is mostly compiled, the third as fast as any later. */
export const WARM_HANDSHAKE_ROUNDS = 3;

/**
 * Runs this build's handshake (PROTOCOL.md §3.1) `rounds` times between two throwaway parties in memory, then
 * one record each way, and returns how long each round took in milliseconds. For a long-running server, before
 * its first client arrives (issue 16): ML-KEM-768 is noble's JavaScript, and V8 runs a function's first calls
 * in its interpreter, so a fresh process's first handshake cost the server ~70 ms of encapsulation (ML-KEM's
 * matrix expansion through Keccak) against ~1 ms from the third on (measured here: keygen 58 / 11 / 0.6 ms,
 * encapsulation 34 / 12 / 0.7 ms in rounds 1 to 3). The keys are fresh, random and dropped; nothing leaves this
 * function. Throws if the two sides disagree, which only a broken build can make them do.
 */
export function warmHandshake(rounds = WARM_HANDSHAKE_ROUNDS): number[] {
  const took: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const prologue = Buffer.from('ferry warm-up');
    const client = new HandshakeState({
      protocolName: NOISE_PROTOCOL_NAME,
      initiator: true,
      prologue,
      s: generateKeyPair(),
    });
    const server = new HandshakeState({
      protocolName: NOISE_PROTOCOL_NAME,
      initiator: false,
      prologue,
      s: generateKeyPair(),
    });
    try {
      decodeEmptyHello(server.readMessage(client.writeMessage(encodeEmptyHello())));
      decodeEmptyHello(client.readMessage(server.writeMessage(encodeEmptyHello())));
      decodeClientHello(server.readMessage(client.writeMessage(encodeClientHello(MODE_NORMAL))));
      if (!client.handshakeHash.equals(server.handshakeHash))
        throw new FerryError('HANDSHAKE_FAILED', 'the warm-up handshake disagreed with itself');
      const clientSplit = client.split();
      const serverSplit = server.split();
      const clientCipher = new SessionCipher(clientSplit.send, clientSplit.receive);
      const serverCipher = new SessionCipher(serverSplit.send, serverSplit.receive);
      const record = Buffer.from('warm');
      if (!serverCipher.open(clientCipher.seal(record)).equals(record))
        throw new FerryError('HANDSHAKE_FAILED', 'the warm-up record did not open');
      clientCipher.open(serverCipher.seal(record));
    } finally {
      client.close();
      server.close();
    }
    took.push(performance.now() - started);
  }
  return took;
}
