import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hintForThisShell } from '../../src/cli/hint-commands.js';

test('hintForThisShell names ferry as this shell runs it in every command the user runs here', () => {
  assert.equal(
    hintForThisShell("run `ferry --home '/tmp/a b' keygen` first", './bin/ferry', 'send'),
    "run `./bin/ferry --home '/tmp/a b' keygen` first",
  );
  assert.equal(
    hintForThisShell('`ferry ls 127.0.0.1:7443/d` lists what is there', '/opt/ferry/bin/ferry', 'get'),
    '`/opt/ferry/bin/ferry ls 127.0.0.1:7443/d` lists what is there',
  );
  // After a server-side command the server's commands are run here too (invite on the wrong home).
  assert.equal(
    hintForThisShell("pass the server's home (`ferry --home DIR invite`)", './bin/ferry', 'invite'),
    "pass the server's home (`./bin/ferry --home DIR invite`)",
  );
});

test("hintForThisShell keeps `ferry` in what a client's error sends to the server's operator, and when ferry is on the PATH", () => {
  const refused =
    "this client is C; on the server run `ferry allow C` in the home whose `ferry id` is S, or pair with `ferry pair` and a code from the server's `ferry invite`";
  assert.equal(
    hintForThisShell(refused, './bin/ferry', 'send'),
    "this client is C; on the server run `ferry allow C` in the home whose `ferry id` is S, or pair with `./bin/ferry pair` and a code from the server's `ferry invite`",
  );
  assert.equal(hintForThisShell(refused, 'ferry', 'send'), refused);
  // Not a command: a word in backquotes that only starts like one is left as it is.
  assert.equal(hintForThisShell('see `ferryboat`', './bin/ferry', 'send'), 'see `ferryboat`');
});
