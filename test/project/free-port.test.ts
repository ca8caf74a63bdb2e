import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { freePort } from '../../scripts/cluster/free-port.js';

const ephemeralLow = Number(
  readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
);

test('ports handed to daemons are distinct within a process, bindable, and below the ephemeral range', async () => {
  const ports: number[] = [];
  for (let i = 0; i < 40; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length, 'a port was handed out twice');
  for (const port of ports)
    assert.ok(port < ephemeralLow, `${port} is in the range outgoing connections take`);
  const servers: Server[] = [];
  try {
    for (const port of ports) {
      const server = createServer();
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
    }
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
});
