// RefusalLogBudget: a session's refusal lines, as a pure token bucket on the events' clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  REFUSAL_LOG_BURST,
  REFUSAL_LOG_PER_SECOND,
  RefusalLogBudget,
} from '../../src/server/refusal-log-budget.js';

test('RefusalLogBudget logs a session`s burst, then one notice, then counts; time brings lines back', () => {
  const budget = new RefusalLogBudget();
  for (let i = 0; i < REFUSAL_LOG_BURST; i++) assert.equal(budget.take(1, 0), 'log');
  assert.equal(budget.take(1, 0), 'notice');
  assert.equal(budget.take(1, 0), 'count');
  // Another session has its own burst.
  assert.equal(budget.take(2, 0), 'log');
  // One second later: REFUSAL_LOG_PER_SECOND lines again, and no second notice.
  for (let i = 0; i < REFUSAL_LOG_PER_SECOND; i++) assert.equal(budget.take(1, 1000), 'log');
  assert.equal(budget.take(1, 1000), 'count');
  assert.equal(budget.end(1), 3);
  // Forgotten at its end: a session id seen again starts whole.
  assert.equal(budget.end(1), 0);
  assert.equal(budget.take(1, 1000), 'log');
});
