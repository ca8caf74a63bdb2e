// The CLI loads only the module of the subcommand it runs (issue 14, start-up cost): the table that maps
// names to modules must name every command its modules register, or `ferry NAME` would not find it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { COMMAND_NAMES, registrarsFor, subcommandOf } from '../../src/cli/command-modules.js';

function namesOf(program: Command): string[] {
  return program.commands.map((c) => c.name());
}

test('every registered command is in the table, and its name loads the module that registers it', async () => {
  const all = new Command('ferry');
  for (const register of await registrarsFor(undefined)) register(all);
  assert.deepEqual(namesOf(all), [...COMMAND_NAMES]);
  for (const name of COMMAND_NAMES) {
    const one = new Command('ferry');
    const registrars = await registrarsFor(name);
    assert.equal(registrars.length, 1, name);
    registrars[0]!(one);
    assert.ok(namesOf(one).includes(name), `${name} is registered by its module`);
    assert.ok(namesOf(one).length < COMMAND_NAMES.length, `${name} loads one group, not all`);
  }
});

test('an unknown or missing subcommand loads every command (help and suggestions list them all)', async () => {
  const all = (await registrarsFor(undefined)).length;
  assert.equal((await registrarsFor('sned')).length, all);
  assert.equal((await registrarsFor('help')).length, all);
});

test('the subcommand is the first word that is not a global option or its value', () => {
  assert.equal(subcommandOf(['send', 'a', 'h:1']), 'send');
  assert.equal(subcommandOf(['--home', 'send', 'get', 'x']), 'get');
  assert.equal(subcommandOf(['--debug', '--home', '/h', 'serve']), 'serve');
  assert.equal(subcommandOf(['--home=/h', 'ls']), 'ls');
  assert.equal(subcommandOf(['--version']), undefined);
  assert.equal(subcommandOf([]), undefined);
});
