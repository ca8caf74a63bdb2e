import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkBinding } from '../../src/machines/pairing-binding.js';

const BINDING = {
  sid: Buffer.alloc(32, 1),
  clientStaticKey: Buffer.alloc(32, 2),
  serverStaticKey: Buffer.alloc(32, 3),
};

test('checkBinding copies the handshake hash and both keys, so the caller may zero or reuse its buffers', () => {
  const given = {
    sid: Buffer.from(BINDING.sid),
    clientStaticKey: Buffer.from(BINDING.clientStaticKey),
    serverStaticKey: Buffer.from(BINDING.serverStaticKey),
  };
  const checked = checkBinding({ ...given, random: () => new Uint8Array(0) });
  given.sid.fill(0);
  given.clientStaticKey.fill(0);
  given.serverStaticKey.fill(0);
  assert.deepEqual(checked, BINDING);
  assert.deepEqual(Object.keys(checked).sort(), ['clientStaticKey', 'serverStaticKey', 'sid']);
});

test('checkBinding refuses a handshake hash or a static key of another length, naming which', () => {
  assert.throws(() => checkBinding({ ...BINDING, sid: Buffer.alloc(31) }), {
    code: 'INTERNAL',
    message: /pairing sid must be the 32-byte handshake hash, got 31/,
  });
  assert.throws(() => checkBinding({ ...BINDING, clientStaticKey: Buffer.alloc(33) }), {
    code: 'INTERNAL',
    message: /client static key must be 32 bytes, got 33/,
  });
  assert.throws(() => checkBinding({ ...BINDING, serverStaticKey: Buffer.alloc(0) }), {
    code: 'INTERNAL',
    message: /server static key must be 32 bytes, got 0/,
  });
});
