// RefusalLogBudget: a client's refusal lines, as a pure token bucket on the events' clock, counted per session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  REFUSAL_LOG_BURST,
  REFUSAL_LOG_PER_SECOND,
  RefusalLogBudget,
} from '../../src/server/refusal-log-budget.js';

const first = { sessionId: 1, clientId: 'client-a' };
const again = { sessionId: 2, clientId: 'client-a' };
const other = { sessionId: 3, clientId: 'client-b' };

test('RefusalLogBudget logs a client`s burst, then one notice a session, then counts; time brings lines back', () => {
  const budget = new RefusalLogBudget();
  for (let i = 0; i < REFUSAL_LOG_BURST; i++) assert.equal(budget.take(first, 0), 'log');
  assert.equal(budget.take(first, 0), 'notice');
  assert.equal(budget.take(first, 0), 'count');
  // Another client has its own burst.
  assert.equal(budget.take(other, 0), 'log');
  // One second later: REFUSAL_LOG_PER_SECOND lines again, and no second notice in that session.
  for (let i = 0; i < REFUSAL_LOG_PER_SECOND; i++) assert.equal(budget.take(first, 1000), 'log');
  assert.equal(budget.take(first, 1000), 'count');
  assert.equal(budget.end(first, 1000), 3);
  assert.equal(budget.end(first, 1000), 0);
  // Reconnecting buys no fresh burst: the client's bucket is still empty, the new session gets its notice.
  assert.equal(budget.take(again, 1000), 'notice');
  assert.equal(budget.end(again, 1000), 1);
  // Once refilled the client is forgotten, and starts whole.
  assert.equal(budget.end(again, 1000 + (REFUSAL_LOG_BURST / REFUSAL_LOG_PER_SECOND) * 1000), 0);
  for (let i = 0; i < REFUSAL_LOG_BURST; i++) assert.equal(budget.take(again, 100_000), 'log');
});
