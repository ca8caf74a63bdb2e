// The CLI's flag defaults are the library's defaults, imported, not repeated (issue 13, point 4): a default
// changed in the library is the default of `ferry` too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerServeCommand } from '../../src/cli/serve-command.js';
import { registerSendCommand } from '../../src/cli/send-command.js';
import { registerGetCommand } from '../../src/cli/get-command.js';
import { registerSyncCommand } from '../../src/cli/sync-command.js';
import { registerLsCommand } from '../../src/cli/ls-command.js';
import { registerDigestCommand } from '../../src/cli/digest-command.js';
import { registerPairCommand } from '../../src/cli/pair-command.js';
import { parseByteSize } from '../../src/cli/parse-option.js';
import {
  CONNECT_TIMEOUT_MS,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_RETRY_POLICY,
  DEFAULT_STREAMS,
  HANDSHAKE_TIMEOUT_MS,
  PAIRING_TIMEOUT_MS,
  SERVER_DEFAULTS,
  STALL_TIMEOUT_MS,
} from '../../src/index.js';

// main.ts runs the command line when imported, so the commands are registered here as buildProgram does.
function defaultsOf(name: string): Map<string, unknown> {
  const program = new Command('ferry');
  for (const register of [
    registerServeCommand,
    registerSendCommand,
    registerGetCommand,
    registerSyncCommand,
    registerLsCommand,
    registerDigestCommand,
    registerPairCommand,
  ])
    register(program);
  const command = program.commands.find((c) => c.name() === name);
  assert.ok(command, `ferry has a ${name} command`);
  return new Map(command.options.map((option) => [option.long!, option.defaultValue]));
}

test('ferry serve defaults to SERVER_DEFAULTS for every tunable it shows', () => {
  const flags = defaultsOf('serve');
  assert.equal(flags.get('--listen'), `127.0.0.1:${SERVER_DEFAULTS.port}`);
  assert.equal(Number(flags.get('--handshake-timeout')), SERVER_DEFAULTS.handshakeTimeoutMs);
  assert.equal(Number(flags.get('--idle-timeout')), SERVER_DEFAULTS.idleTimeoutMs);
  assert.equal(parseByteSize(flags.get('--durable-batch') as string), SERVER_DEFAULTS.durableBatchBytes);
  assert.equal(Number(flags.get('--partial-max-age')), SERVER_DEFAULTS.partialMaxAgeMs);
  assert.equal(Number(flags.get('--max-connections')), SERVER_DEFAULTS.limits.maxConnections);
  assert.equal(Number(flags.get('--max-unauthenticated')), SERVER_DEFAULTS.limits.maxUnauthenticated);
  assert.equal(Number(flags.get('--max-sessions-per-client')), SERVER_DEFAULTS.limits.maxSessionsPerClient);
  assert.equal(Number(flags.get('--handshake-rate')), SERVER_DEFAULTS.handshakeRate.handshakesPerSecond);
  assert.equal(Number(flags.get('--handshake-burst')), SERVER_DEFAULTS.handshakeRate.handshakeBurst);
  assert.equal(parseByteSize(flags.get('--min-free-disk') as string), SERVER_DEFAULTS.minFreeDiskBytes);
  assert.equal(Number(flags.get('--max-partials-per-client')), SERVER_DEFAULTS.maxPartialsPerClient);
  // Sizes stay readable in --help.
  assert.equal(flags.get('--durable-batch'), '16M');
});

test('ferry send, get, sync, ls and pair default to the client library constants', () => {
  for (const name of ['send', 'get', 'sync', 'ls']) {
    const flags = defaultsOf(name);
    assert.equal(Number(flags.get('--connect-timeout')), CONNECT_TIMEOUT_MS, name);
    assert.equal(Number(flags.get('--handshake-timeout')), HANDSHAKE_TIMEOUT_MS, name);
    assert.equal(Number(flags.get('--stall-timeout')), STALL_TIMEOUT_MS, name);
    assert.equal(Number(flags.get('--retries')), DEFAULT_RETRY_POLICY.retries, name);
    assert.equal(Number(flags.get('--retry-delay')), DEFAULT_RETRY_POLICY.baseDelayMs, name);
  }
  for (const name of ['send', 'get', 'sync'])
    assert.equal(parseByteSize(defaultsOf(name).get('--chunk-size') as string), DEFAULT_CHUNK_BYTES, name);
  assert.equal(Number(defaultsOf('send').get('--streams')), DEFAULT_STREAMS);
  assert.equal(Number(defaultsOf('sync').get('--streams')), DEFAULT_STREAMS);
  const pair = defaultsOf('pair');
  assert.equal(Number(pair.get('--connect-timeout')), CONNECT_TIMEOUT_MS);
  assert.equal(Number(pair.get('--handshake-timeout')), HANDSHAKE_TIMEOUT_MS);
  assert.equal(Number(pair.get('--timeout')), PAIRING_TIMEOUT_MS);
});
