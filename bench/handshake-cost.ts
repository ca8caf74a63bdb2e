// Question: what does the hybrid handshake (PROTOCOL.md §3.1, Noise_XXhfs_25519+MLKEM768) cost against
// version 1's Noise_XX_25519, per side, in CPU milliseconds and bytes on the wire? And what does one message 1
// cost a server before the client has proved anything (docs/SECURITY.md, "Handshakes under load")?
//
// Both sides run in one process on the pure handshake state (crypto/), each side's calls timed on their own,
// so the numbers are CPU time of the handshake itself (no sockets, no scheduling); a loopback run of the real
// channel handshake gives the wall time a user sees. `bench/run.ts --cases handshake` prints one JSON line per
// protocol.
import { connect, createServer } from 'node:net';
import { once } from 'node:events';
import { generateKeyPair, HandshakeState } from '../src/crypto/index.js';
import { FramedSocket, clientHandshake, serverHandshake } from '../src/channel/index.js';
import {
  encodeClientHello,
  encodeEmptyHello,
  encodePreamble,
  encodeVersionOffer,
  versionPrologue,
} from '../src/protocol/index.js';
import { median } from './lib/median.js';

/** One protocol's measured cost: medians over the runs. */
export interface HandshakeCost {
  protocol: string;
  runs: number;
  /** CPU ms the client spends on its three steps (write 1, read 2, write 3). */
  clientCpuMs: number;
  /** CPU ms the server spends on its three steps (read 1, write 2, read 3). */
  serverCpuMs: number;
  /** CPU ms the server spends between receiving message 1 and sending message 2: what any stranger can ask. */
  serverMessage1CpuMs: number;
  /** Bytes the client sends before its first record: preamble or offer, and messages 1 and 3 with lengths. */
  clientBytes: number;
  /** Bytes the server sends before its first record: the answer (v2) and message 2 with its length. */
  serverBytes: number;
}

interface Shape {
  protocol: string;
  clientPreamble: Buffer;
  serverPreamble: Buffer;
  payload1: Buffer;
  payload3: Buffer;
}

// Version 1 as it was on the wire (8-byte preamble as prologue, empty payloads, a one-byte ClientHello), and
// version 2 as it is.
const V1: Shape = {
  protocol: 'Noise_XX_25519_AESGCM_SHA256',
  clientPreamble: encodePreamble(1),
  serverPreamble: Buffer.alloc(0),
  payload1: Buffer.alloc(0),
  payload3: Buffer.of(0),
};
const V2: Shape = {
  protocol: 'Noise_XXhfs_25519+MLKEM768_AESGCM_SHA256',
  clientPreamble: encodeVersionOffer(),
  serverPreamble: encodePreamble(),
  payload1: encodeEmptyHello(),
  payload3: encodeClientHello(0),
};

function timed<T>(step: () => T, into: { ms: number }): T {
  const start = process.hrtime.bigint();
  const result = step();
  into.ms += Number(process.hrtime.bigint() - start) / 1e6;
  return result;
}

function once1(shape: Shape): Omit<HandshakeCost, 'runs'> {
  const prologue =
    shape.serverPreamble.length === 0
      ? shape.clientPreamble
      : versionPrologue(shape.clientPreamble, shape.serverPreamble);
  const client = { ms: 0 };
  const server = { ms: 0 };
  const message1 = { ms: 0 };
  const [clientStatic, serverStatic] = [generateKeyPair(), generateKeyPair()];
  const c = timed(
    () => new HandshakeState({ protocolName: shape.protocol, initiator: true, prologue, s: clientStatic }),
    client,
  );
  const s = timed(
    () => new HandshakeState({ protocolName: shape.protocol, initiator: false, prologue, s: serverStatic }),
    server,
  );
  const m1 = timed(() => c.writeMessage(shape.payload1), client);
  const m2 = timed(() => {
    s.readMessage(m1);
    return s.writeMessage(encodeEmptyHello());
  }, message1);
  server.ms += message1.ms;
  timed(() => c.readMessage(m2), client);
  const m3 = timed(() => c.writeMessage(shape.payload3), client);
  timed(() => s.readMessage(m3), server);
  timed(() => c.split(), client);
  timed(() => s.split(), server);
  return {
    protocol: shape.protocol,
    clientCpuMs: client.ms,
    serverCpuMs: server.ms,
    serverMessage1CpuMs: message1.ms,
    clientBytes: shape.clientPreamble.length + 2 + m1.length + 2 + m3.length,
    serverBytes: shape.serverPreamble.length + 2 + m2.length,
  };
}

/** Measures both protocols `runs` times each (after a warm-up), returning medians. */
export function measureHandshakeCost(runs: number): HandshakeCost[] {
  return [V1, V2].map((shape) => {
    for (let i = 0; i < 5; i++) once1(shape); // warm-up: JIT and the libraries' tables
    const samples = Array.from({ length: runs }, () => once1(shape));
    const pick = (key: 'clientCpuMs' | 'serverCpuMs' | 'serverMessage1CpuMs'): number =>
      Math.round(median(samples.map((s) => s[key])) * 1000) / 1000;
    return {
      protocol: shape.protocol,
      runs,
      clientCpuMs: pick('clientCpuMs'),
      serverCpuMs: pick('serverCpuMs'),
      serverMessage1CpuMs: pick('serverMessage1CpuMs'),
      clientBytes: samples[0]!.clientBytes,
      serverBytes: samples[0]!.serverBytes,
    };
  });
}

/** Median wall ms of the real channel handshake (version 2) over loopback TCP, both sides in this process. */
export async function measureLoopbackHandshakeMs(runs: number): Promise<number> {
  const serverIdentity = generateKeyPair();
  const clientIdentity = generateKeyPair();
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    serverHandshake(new FramedSocket(socket), { identity: serverIdentity }).then(
      ({ channel }) => channel.close(),
      () => undefined,
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const walls: number[] = [];
  try {
    for (let i = 0; i < runs + 3; i++) {
      const start = performance.now();
      const socket = connect({ host: '127.0.0.1', port, noDelay: true });
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      const channel = await clientHandshake(new FramedSocket(socket), {
        identity: clientIdentity,
        verifyServer: () => undefined,
      });
      if (i >= 3) walls.push(performance.now() - start);
      channel.close();
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return Math.round(median(walls) * 1000) / 1000;
}
