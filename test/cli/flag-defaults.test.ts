// The CLI's flag defaults are the library's defaults, imported, not repeated (issue 13, point 4): a default
// changed in the library is the default of `ferry` too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerServeCommand } from '../../src/cli/serve-command.js';
import { parseClaimTtl } from '../../src/cli/serve-coordination-flags.js';
import { registerSendCommand } from '../../src/cli/send-command.js';
import { registerGetCommand } from '../../src/cli/get-command.js';
import { registerSyncCommand } from '../../src/cli/sync-command.js';
import { registerLsCommand } from '../../src/cli/ls-command.js';
import { registerDigestCommand } from '../../src/cli/digest-command.js';
import { registerPairCommand } from '../../src/cli/pair-command.js';
import { formatMs, parseByteSize, parseChunkSize, parseMs } from '../../src/cli/parse-option.js';
import {
  CONNECT_TIMEOUT_MS,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_CLAIM_TTL_SECONDS,
  DEFAULT_RETRY_POLICY,
  DEFAULT_STREAMS,
  HANDSHAKE_TIMEOUT_MS,
  PAIRING_TIMEOUT_MS,
  SERVER_DEFAULTS,
  STALL_TIMEOUT_MS,
} from '../../src/index.js';

/** A duration default as the CLI parses it. */
function ms(value: unknown): number {
  return parseMs(value as string, 'default');
}

// main.ts runs the command line when imported, so the commands are registered here as buildProgram does.
function commandOf(name: string): Command {
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
  return command;
}

function defaultsOf(name: string): Map<string, unknown> {
  return new Map(commandOf(name).options.map((option) => [option.long!, option.defaultValue]));
}

function helpOf(name: string, flag: string): string {
  return commandOf(name).options.find((option) => option.long === flag)!.description;
}

test('ferry serve defaults to SERVER_DEFAULTS for every tunable it shows', () => {
  const flags = defaultsOf('serve');
  assert.equal(flags.get('--listen'), `127.0.0.1:${SERVER_DEFAULTS.port}`);
  assert.equal(ms(flags.get('--handshake-timeout')), SERVER_DEFAULTS.handshakeTimeoutMs);
  assert.equal(ms(flags.get('--idle-timeout')), SERVER_DEFAULTS.idleTimeoutMs);
  assert.equal(parseByteSize(flags.get('--durable-batch') as string), SERVER_DEFAULTS.durableBatchBytes);
  assert.equal(ms(flags.get('--partial-max-age')), SERVER_DEFAULTS.partialMaxAgeMs);
  assert.equal(Number(flags.get('--max-connections')), SERVER_DEFAULTS.limits.maxConnections);
  assert.equal(Number(flags.get('--max-unauthenticated')), SERVER_DEFAULTS.limits.maxUnauthenticated);
  assert.equal(Number(flags.get('--max-sessions-per-client')), SERVER_DEFAULTS.limits.maxSessionsPerClient);
  assert.equal(Number(flags.get('--handshake-rate')), SERVER_DEFAULTS.handshakeRate.handshakesPerSecond);
  assert.equal(Number(flags.get('--handshake-burst')), SERVER_DEFAULTS.handshakeRate.handshakeBurst);
  assert.equal(parseByteSize(flags.get('--min-free-disk') as string), SERVER_DEFAULTS.minFreeDiskBytes);
  assert.equal(Number(flags.get('--max-partials-per-client')), SERVER_DEFAULTS.maxPartialsPerClient);
  assert.equal(ms(flags.get('--upload-stall-timeout')), SERVER_DEFAULTS.uploadStallTimeoutMs);
  assert.equal(parseClaimTtl(flags.get('--claim-ttl') as string), DEFAULT_CLAIM_TTL_SECONDS);
  // The stop's grace is the bound of the library's close, which the stop passes it.
  assert.equal(ms(flags.get('--stop-grace')), SERVER_DEFAULTS.closeGraceMs);
  // Sizes and durations stay readable in --help, in the units the README uses.
  assert.equal(flags.get('--durable-batch'), '16M');
  assert.equal(flags.get('--partial-max-age'), '1d');
  assert.equal(flags.get('--idle-timeout'), '1m');
});

test('ferry send, get, sync, ls and pair default to the client library constants', () => {
  for (const name of ['send', 'get', 'sync', 'ls']) {
    const flags = defaultsOf(name);
    assert.equal(ms(flags.get('--connect-timeout')), CONNECT_TIMEOUT_MS, name);
    assert.equal(ms(flags.get('--handshake-timeout')), HANDSHAKE_TIMEOUT_MS, name);
    assert.equal(ms(flags.get('--stall-timeout')), STALL_TIMEOUT_MS, name);
    assert.equal(Number(flags.get('--retries')), DEFAULT_RETRY_POLICY.retries, name);
    assert.equal(ms(flags.get('--retry-delay')), DEFAULT_RETRY_POLICY.baseDelayMs, name);
  }
  for (const name of ['send', 'get', 'sync'])
    assert.equal(parseByteSize(defaultsOf(name).get('--chunk-size') as string), DEFAULT_CHUNK_BYTES, name);
  assert.equal(Number(defaultsOf('send').get('--streams')), DEFAULT_STREAMS);
  assert.equal(Number(defaultsOf('sync').get('--streams')), DEFAULT_STREAMS);
  assert.deepEqual(
    ['--connect-timeout', '--stall-timeout', '--retry-delay'].map((flag) => defaultsOf('send').get(flag)),
    ['10s', '30s', '500ms'],
  );
  const pair = defaultsOf('pair');
  assert.equal(ms(pair.get('--connect-timeout')), CONNECT_TIMEOUT_MS);
  assert.equal(ms(pair.get('--handshake-timeout')), HANDSHAKE_TIMEOUT_MS);
  assert.equal(ms(pair.get('--timeout')), PAIRING_TIMEOUT_MS);
});

test('formatMs writes a duration in the largest unit that divides it, and parseMs reads it back', () => {
  for (const [ms, text] of [
    [500, '500ms'],
    [1500, '1500ms'],
    [30_000, '30s'],
    [90_000, '90s'],
    [600_000, '10m'],
    [86_400_000, '1d'],
    [7_200_000, '2h'],
    [0, '0ms'],
  ] as const) {
    assert.equal(formatMs(ms), text);
    assert.equal(parseMs(text, '--x'), ms);
  }
});

test('--chunk-size help and error give the bounds the check applies (64k to 64M), on send, get and sync alike', () => {
  for (const name of ['send', 'get', 'sync'])
    assert.equal(helpOf(name, '--chunk-size'), 'chunk size, a power of two from 64k to 64M', name);
  assert.equal(parseChunkSize('64k'), 64 * 1024);
  assert.throws(() => parseChunkSize('4k'), {
    message: 'invalid usage: --chunk-size must be a power of two from 64k to 64M, got 4k',
  });
});

test("sync's --verbose does not ask for a -r that sync does not have", () => {
  assert.doesNotMatch(helpOf('sync', '--verbose'), /-r/);
  assert.match(helpOf('send', '--verbose'), /^with -r, /);
});
