// `ferry ls` formats each entry's mtime from the server's listing (a u64 of ms, PROTOCOL.md §5.12) as a date;
// one past what a JavaScript Date holds (8.64e15 ms: a hostile server, or a far-future file on a file system
// that stores it) threw, and the whole listing failed with INTERNAL after printing part of it. The real CLI
// against a hostile server on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFerry } from '../helpers/cli.js';
import { file, startHostileRig } from './hostile-server.js';

test('ferry ls lists an entry whose mtime no date can hold', async (t) => {
  const { hostile, common, target } = await startHostileRig(t, 'ferry-ls-far-mtime-');
  hostile.script = {
    entries: [{ ...file('far.txt', 4), mtimeMs: Number.MAX_SAFE_INTEGER }, file('ok.txt', 4)],
  };
  const listed = await runFerry([...common.slice(0, 2), 'ls', '-r', target, ...common.slice(2)]);
  // Before: exit 70, "INTERNAL: internal error: Invalid time value", ok.txt never listed.
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^-rw-r--r-- +4 \?{4}-\?\?-\?\? \?\?:\?\? far\.txt$/m);
  assert.match(listed.stdout, /^-rw-r--r-- +4 2023-11-14 22:13 ok\.txt$/m);
});
