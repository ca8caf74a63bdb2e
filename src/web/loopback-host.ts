import { isIP } from 'node:net';

/**
 * Whether `host` (a name or an address, IPv6 with or without brackets) can only be reached from this
 * machine: `localhost`, 127.0.0.0/8, `::1`, or an IPv4-mapped loopback address.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const name = bare.toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) {
    if (name === '::1' || name === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(name);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  return false;
}
