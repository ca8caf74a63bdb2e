// The relay fuzz targets' wait for the server's sessions to end (relay-fuzz-target.ts `serverIdle`) is bounded:
// a session that outlives its client's return fails the input by name, with what the server says it is doing
// (`FerryServer.sessionStates`) and what the relay carried on it, instead of hanging the test file.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ClientSession } from '../../src/client/index.js';
import { RelayFuzzTarget, type RelayTargetOptions } from './relay-fuzz-target.js';
import { FuzzFailure } from './run-fuzz.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** A relay target whose test drives it by hand: sessions opened through the relay, then waited for. */
class HeldSessions extends RelayFuzzTarget {
  readonly name = 'held-sessions';

  /** A target over a fresh directory, waiting `sessionsEndMs` at most, with one admitted session open. */
  static async withOneHeld(
    t: TestContext,
    sessionsEndMs: number,
  ): Promise<{ target: HeldSessions; held: ClientSession }> {
    const work = await makeTempDir('ferry-fuzz-deadline-');
    t.after(() => removeTempDir(work));
    const target = await HeldSessions.start({ workDir: work, sessionsEndMs });
    t.after(() => target.close());
    const held = await target.admitted();
    t.after(() => held.close());
    return { target, held };
  }

  static async start(options: RelayTargetOptions): Promise<HeldSessions> {
    const { server, relay } = await this.startRelayed('server', options.workDir);
    return new HeldSessions('server', server, relay, options);
  }

  one(): Promise<void> {
    throw new Error('driven by the test');
  }

  /** An admitted session through the relay, which its client keeps open (no stall for a minute). */
  async admitted(): Promise<ClientSession> {
    const session = await ClientSession.connect(this.relay.address, {
      ...this.client(),
      stallTimeoutMs: 60_000,
    });
    await session.welcome;
    return session;
  }

  idle(index: number): Promise<void> {
    return this.serverIdle({ index, kind: 'held open' });
  }
}

test('serverIdle fails past its deadline naming the input and the session still open, its phase and its records', async (t) => {
  const { target } = await HeldSessions.withOneHeld(t, 200);
  const failure = await target.idle(7).then(
    () => assert.fail('serverIdle resolved with a session open'),
    (err: unknown) => err,
  );
  assert.ok(failure instanceof FuzzFailure, String(failure));
  assert.match(failure.message, /^input 7 \(held open\): the server's session \d+ did not end within 200 ms/);
  assert.match(failure.message, /connection open\): in 'next message' for \d+ ms/);
  // The relay's log of that connection: the client's records (none after the handshake) and the server's.
  assert.match(
    failure.message,
    /relay: 0 records from the client; \d+ records from the server \(last [A-Z_ ]*WELCOME/,
  );
  assert.match(failure.message, /no change made; still carrying/);
});

test('serverIdle resolves once the client closed its session, and waits no more for one given up on', async (t) => {
  const { target, held: given } = await HeldSessions.withOneHeld(t, 200);
  await assert.rejects(target.idle(0), FuzzFailure);
  // A later input waits for its own session alone: it ends when its client closes.
  const closing = await target.admitted();
  const idle = target.idle(1);
  closing.close();
  await idle;
  // Its client gone too, the first session ends, and the server's close waits for none.
  given.close();
});
