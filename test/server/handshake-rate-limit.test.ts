// The per-source handshake rate limit as a pure object (docs/SECURITY.md, "Handshakes under load"): a token
// bucket per IPv4 address or IPv6 /64, refilled by an injected clock, its table bounded, one log line per
// source per run of refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { HandshakeRateLimit, sourceOf } from '../../src/server/handshake-rate-limit.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function capturedLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

test('sources: an IPv4 address is its own, an IPv6 address counts as its /64, mapped IPv4 as IPv4', () => {
  assert.equal(sourceOf('192.0.2.7'), '192.0.2.7');
  assert.equal(sourceOf('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(sourceOf('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(sourceOf('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(sourceOf('2001:0db8:0001:0002::9'), '2001:db8:1:2::/64');
  assert.equal(sourceOf('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(sourceOf('::1'), '0:0:0:0::/64');
  assert.equal(sourceOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.notEqual(sourceOf('2001:db8:1:2::1'), sourceOf('2001:db8:1:3::1'));
});

test('a burst is allowed, the next is refused, and tokens come back at the rate', () => {
  const c = clock();
  const limit = new HandshakeRateLimit(
    { handshakesPerSecond: 4, handshakeBurst: 3, maxSources: 10 },
    { now: c.now },
  );
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => limit.allow('192.0.2.1')),
    [true, true, true, false, false],
  );
  // Another source has its own bucket.
  assert.equal(limit.allow('192.0.2.2'), true);
  c.advance(249); // 4/s: one token per 250 ms
  assert.equal(limit.allow('192.0.2.1'), false);
  c.advance(1);
  assert.equal(limit.allow('192.0.2.1'), true);
  assert.equal(limit.allow('192.0.2.1'), false);
  // A long pause refills to the burst, never past it.
  c.advance(60_000);
  assert.deepEqual(
    [1, 2, 3, 4].map(() => limit.allow('192.0.2.1')),
    [true, true, true, false],
  );
  assert.deepEqual(limit.stats, { allowed: 8, refused: 5, forgotten: 0 });
});

test('hosts of one IPv6 /64 share a bucket, the next /64 does not', () => {
  const c = clock();
  const limit = new HandshakeRateLimit(
    { handshakesPerSecond: 1, handshakeBurst: 2, maxSources: 10 },
    { now: c.now },
  );
  assert.equal(limit.allow('2001:db8:0:1::a'), true);
  assert.equal(limit.allow('2001:db8:0:1::b'), true);
  assert.equal(limit.allow('2001:db8:0:1:ffff::c'), false);
  assert.equal(limit.allow('2001:db8:0:2::a'), true);
});

test('the table never holds more than maxSources; refilled buckets go first, then the first seen', () => {
  const c = clock();
  const limit = new HandshakeRateLimit(
    { handshakesPerSecond: 1, handshakeBurst: 1, maxSources: 100 },
    { now: c.now },
  );
  let inserted = 0;
  for (let i = 0; i < 10_000; i++) {
    limit.allow(`10.1.${i >> 8}.${i & 255}`);
    inserted++;
    assert.ok(limit.size <= 100, `size ${limit.size}`);
  }
  assert.equal(limit.stats.forgotten, inserted - limit.size);
  // A full table of exhausted sources; after a second all but one have refilled (they carry no state).
  const full = new HandshakeRateLimit(
    { handshakesPerSecond: 1, handshakeBurst: 1, maxSources: 100 },
    { now: c.now },
  );
  for (let i = 0; i < 100; i++) full.allow(`10.2.0.${i}`);
  c.advance(999);
  assert.equal(full.allow('10.2.0.0'), false, 'not refilled yet');
  c.advance(1);
  assert.equal(full.allow('10.3.0.1'), true, 'a new source finds room');
  assert.equal(full.size, 2, 'the 99 refilled buckets were forgotten, the exhausted one kept');
  assert.equal(full.stats.forgotten, 99);
});

test('one log line per source when it starts being refused, not one per connection', () => {
  const c = clock();
  const { logger, lines } = capturedLogger();
  const limit = new HandshakeRateLimit(
    { handshakesPerSecond: 1, handshakeBurst: 1, maxSources: 10 },
    { now: c.now, logger },
  );
  for (let i = 0; i < 500; i++) limit.allow('198.51.100.9');
  for (let i = 0; i < 500; i++) limit.allow('2001:db8::9');
  assert.equal(lines.length, 2);
  assert.deepEqual(
    lines.map((l) => [l.event, l.source, l.code]),
    [
      ['handshake-rate-limited', '198.51.100.9', 'SERVER_BUSY'],
      ['handshake-rate-limited', '2001:db8:0:0::/64', 'SERVER_BUSY'],
    ],
  );
  // Allowed again after the refill, then refused again: a new run, one new line.
  c.advance(1000);
  assert.equal(limit.allow('198.51.100.9'), true);
  for (let i = 0; i < 100; i++) limit.allow('198.51.100.9');
  assert.equal(lines.length, 3);
});

test('a rate of 0 turns the limit off and remembers nothing', () => {
  const limit = new HandshakeRateLimit({ handshakesPerSecond: 0, handshakeBurst: 1, maxSources: 1 });
  for (let i = 0; i < 100; i++) assert.equal(limit.allow('192.0.2.1'), true);
  assert.equal(limit.size, 0);
});

test('limits that would refuse everyone are rejected', () => {
  assert.throws(
    () => new HandshakeRateLimit({ handshakesPerSecond: 1, handshakeBurst: 0, maxSources: 1 }),
    RangeError,
  );
  assert.throws(
    () => new HandshakeRateLimit({ handshakesPerSecond: 1, handshakeBurst: 1, maxSources: 0 }),
    RangeError,
  );
});
