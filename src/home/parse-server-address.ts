import { FerryError } from '../errors/index.js';

// Characters that would make URL parsing read something other than a host (userinfo, path, query...),
// plus '%' (percent-escapes and IPv6 zone ids), which would let two spellings name one host.
const NOT_IN_HOST = /[\s/?#@\\%]/;

/**
 * The one spelling of a server address that pins are keyed by: lower-case host, IPv6 in brackets and in
 * its shortest form (`[::1]:7443`), IPv4 canonical, IDN as punycode, no trailing dot. Host parsing is the
 * WHATWG URL parser's, so the pin matches what `ferry` itself will connect to. Bad input is USAGE_INVALID.
 */
export function normaliseServerAddress(host: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new FerryError('USAGE_INVALID', `port must be 1-65535, got ${port}`);
  }
  let bare = host.trim();
  if (bare.startsWith('[') && bare.endsWith(']')) bare = bare.slice(1, -1);
  else if (bare.endsWith('.')) bare = bare.slice(0, -1);
  if (bare === '' || NOT_IN_HOST.test(bare))
    throw new FerryError('USAGE_INVALID', `not a host name: ${JSON.stringify(host)}`);
  let hostname: string;
  try {
    hostname = new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}/`).hostname;
  } catch (err) {
    throw new FerryError('USAGE_INVALID', `not a host name: ${JSON.stringify(host)}`, { cause: err });
  }
  return `${hostname}:${port}`;
}

/**
 * Parses `HOST:PORT` or `[IPV6]:PORT` (as typed on the command line) into its normalised form. Without a
 * port, `defaultPort` is used if given. A bare IPv6 address is refused: `::1:7443` is ambiguous.
 */
export function parseServerAddress(text: string, options: { defaultPort?: number } = {}): string {
  const trimmed = text.trim();
  let host: string;
  let portText: string | undefined;
  if (trimmed.startsWith('[')) {
    const close = trimmed.indexOf(']');
    const rest = close < 0 ? '' : trimmed.slice(close + 1);
    if (close < 0 || (rest !== '' && !rest.startsWith(':'))) {
      throw new FerryError('USAGE_INVALID', `not an address: ${JSON.stringify(text)} (expected [IPV6]:PORT)`);
    }
    host = trimmed.slice(1, close);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colons = trimmed.split(':').length - 1;
    if (colons > 1) {
      throw new FerryError(
        'USAGE_INVALID',
        `put IPv6 addresses in brackets, like [::1]:7443 (got ${JSON.stringify(text)})`,
      );
    }
    const colon = trimmed.indexOf(':');
    host = colon < 0 ? trimmed : trimmed.slice(0, colon);
    portText = colon < 0 ? undefined : trimmed.slice(colon + 1);
  }
  let port: number;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText))
      throw new FerryError('USAGE_INVALID', `not a port: ${JSON.stringify(portText)}`);
    port = Number(portText);
  } else if (options.defaultPort !== undefined) {
    port = options.defaultPort;
  } else {
    throw new FerryError('USAGE_INVALID', `missing port in ${JSON.stringify(text)} (expected HOST:PORT)`);
  }
  return normaliseServerAddress(host, port);
}
