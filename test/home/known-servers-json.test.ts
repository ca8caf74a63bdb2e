import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFerryId } from '../../src/crypto/ferry-id.js';
import {
  knownServersText,
  validateKnownServers,
  type KnownServer,
} from '../../src/home/known-servers-json.js';

const ID_A = formatFerryId(Buffer.alloc(32, 1));
const ID_B = formatFerryId(Buffer.alloc(32, 2));
const NEXT = 'ab'.repeat(32);

test('knownServersText writes pins sorted by address, a pin without a commitment as a plain id, and reads back equal', () => {
  const servers = new Map<string, KnownServer>([
    ['zeta.example:7443', { id: ID_A }],
    ['[::1]:7443', { id: ID_B, next: NEXT, prev: ID_A }],
    ['alpha.example:7443', { id: ID_B, next: NEXT }],
  ]);
  const text = knownServersText(servers);
  assert.ok(text.endsWith('}\n'));
  const json = JSON.parse(text) as { version: number; servers: Record<string, unknown> };
  assert.equal(json.version, 1);
  assert.deepEqual(Object.keys(json.servers), ['[::1]:7443', 'alpha.example:7443', 'zeta.example:7443']);
  assert.equal(json.servers['zeta.example:7443'], ID_A);
  assert.deepEqual(validateKnownServers(json, 'known-servers.json'), servers);
});

test('validateKnownServers normalises a hand-written address and refuses two spellings of one', () => {
  const read = validateKnownServers({ version: 1, servers: { 'Example.COM.:7443': ID_A } }, 'f.json');
  assert.deepEqual([...read.keys()], ['example.com:7443']);
  assert.throws(
    () =>
      validateKnownServers(
        { version: 1, servers: { 'example.com:7443': ID_A, 'EXAMPLE.com:7443': ID_B } },
        'f.json',
      ),
    {
      code: 'CONFIG_INVALID',
      message: /f\.json: servers\["EXAMPLE\.com:7443"\] is another spelling of example\.com:7443/,
    },
  );
});

test('validateKnownServers refuses a wrong version, unknown keys and a bad commitment, naming the file', () => {
  const refused = (json: unknown, message: RegExp): void =>
    assert.throws(() => validateKnownServers(json, 'f.json'), { code: 'CONFIG_INVALID', message });
  refused([], /f\.json: expected an object/);
  refused({ version: 2, servers: {} }, /version must be 1, got 2/);
  refused({ version: 1, servers: {}, extra: 1 }, /unknown key "extra"/);
  refused(
    { version: 1, servers: { 'a.example:1': { id: ID_A, next: 'AB'.repeat(32) } } },
    /\.next must be 64 lower-case hex/,
  );
  refused(
    { version: 1, servers: { 'a.example:1': { id: ID_A, next: NEXT, old: ID_B } } },
    /unknown key "old"/,
  );
  refused({ version: 1, servers: { 'a.example:1': 42 } }, /must be a ferry id string/);
});
