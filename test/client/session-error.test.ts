import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES } from '../../src/errors/index.js';
import { CLUSTER_REFUSAL_DETAIL } from '../../src/protocol/index.js';
import { sessionErrorFrom } from '../../src/client/session-error.js';

const SESSION = {
  clientId: 'ferry:client-id-for-the-test',
  serverId: 'ferry:server-id-for-the-test',
  address: { host: 'example.net', port: 7010 },
};

test("sessionErrorFrom tells a refused client its ID and the command that lets it in, as the server's error", () => {
  const err = sessionErrorFrom(
    { type: 'ERROR', ref: 0, code: ERROR_CODES.CLIENT_NOT_ALLOWED.wire, detail: 'ignored' },
    SESSION,
  );
  assert.equal(err.code, 'CLIENT_NOT_ALLOWED');
  assert.equal(err.remote, true);
  assert.match(
    err.message,
    /this client is ferry:client-id-for-the-test; on the server run `ferry allow ferry:client-id-for-the-test` in the home whose `ferry id` is ferry:server-id-for-the-test,/,
  );
  assert.doesNotMatch(err.message, /ignored/);
  assert.match(String(err.subject), /example\.net/);
});

test("sessionErrorFrom tells a client a cluster refused to be allowed through the cluster's etcd, not a home", () => {
  const err = sessionErrorFrom(
    { type: 'ERROR', ref: 0, code: ERROR_CODES.CLIENT_NOT_ALLOWED.wire, detail: CLUSTER_REFUSAL_DETAIL },
    SESSION,
  );
  assert.equal(err.code, 'CLIENT_NOT_ALLOWED');
  assert.equal(err.remote, true);
  assert.equal(err.detail, CLUSTER_REFUSAL_DETAIL);
  assert.match(
    err.message,
    /this client is ferry:client-id-for-the-test; run `ferry allow ferry:client-id-for-the-test --coordination etcd:\/\/HOST:PORT\/PREFIX` /,
  );
  assert.match(err.message, /`ferry invite --coordination \.\.\.`/);
  // Not the home's command: no server of a cluster reads a home's allow-list.
  assert.doesNotMatch(err.message, /in the home whose/);
  // Only that exact text: another (a prefix, a case change, an escape) is a detail like any other, unshown.
  for (const detail of [`${CLUSTER_REFUSAL_DETAIL}\x1b[31m`, CLUSTER_REFUSAL_DETAIL.toUpperCase()]) {
    const other = sessionErrorFrom(
      { type: 'ERROR', ref: 0, code: ERROR_CODES.CLIENT_NOT_ALLOWED.wire, detail },
      SESSION,
    );
    assert.equal(other.detail, undefined);
    assert.match(other.message, /in the home whose `ferry id` is ferry:server-id-for-the-test/);
  }
});

test("sessionErrorFrom keeps any other code with the server's detail", () => {
  const err = sessionErrorFrom(
    { type: 'ERROR', ref: 0, code: ERROR_CODES.SERVER_BUSY.wire, detail: 'try later' },
    SESSION,
  );
  assert.equal(err.code, 'SERVER_BUSY');
  assert.equal(err.remote, true);
  assert.equal(err.retryable, true);
  assert.match(err.message, /try later/);
});

test('sessionErrorFrom reads a wire code it does not know as INTERNAL', () => {
  assert.equal(
    sessionErrorFrom({ type: 'ERROR', ref: 0, code: 0xfffe, detail: '' }, SESSION).code,
    'INTERNAL',
  );
});
