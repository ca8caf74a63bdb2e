import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepOf, type Transition } from '../../src/machines/index.js';

const TABLE = [
  { state: 'idle', event: 'GO', next: 'busy', action: 'start' },
  { state: 'busy', event: 'STOP', next: 'idle', action: 'stop' },
] as const satisfies readonly Transition[];

test('stepOf returns the row of an event its table allows in the state', () => {
  assert.equal(stepOf(TABLE, 'idle', 'GO').next, 'busy');
  assert.equal(stepOf(TABLE, 'busy', 'STOP').action, 'stop');
});

test('stepOf refuses an event the table does not list for the state with MESSAGE_UNEXPECTED "<event> in state <state>"', () => {
  assert.throws(() => stepOf(TABLE, 'idle', 'STOP'), {
    code: 'MESSAGE_UNEXPECTED',
    message: /STOP in state idle/,
  });
  assert.throws(() => stepOf(TABLE, 'nowhere', 'GO'), { code: 'MESSAGE_UNEXPECTED' });
});
