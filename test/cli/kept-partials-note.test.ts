// What a stopped run's error line says was kept: a lower bound ("at least"), since the receiver finishes what
// was in flight after the client stopped (stop 36's pass: 48 MiB said, 84 MiB resumed); a file in flight with
// nothing reported yet is not "no partial file was kept", which told the user the rerun starts over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keptPartialsNote } from '../../src/cli/kept-partials-note.js';

const MIB = 1024 * 1024;

test('keptPartialsNote says the bytes reported are a lower bound', () => {
  assert.equal(
    keptPartialsNote([{ file: 'big.bin', keptBytes: 48 * MIB, size: 100 * MIB }], 'locally'),
    'big.bin: at least 48.0 MiB of 100 MiB verified and kept locally: run the same command again to resume from there',
  );
});

test('keptPartialsNote names the files with bytes reported and counts the rest', () => {
  const partials = ['a', 'b', 'c', 'd'].map((file, i) => ({ file, keptBytes: i * MIB, size: 4 * MIB }));
  assert.equal(
    keptPartialsNote(partials, 'on the server'),
    'b: at least 1.00 MiB of 4.00 MiB, c: at least 2.00 MiB of 4.00 MiB and 1 more partial files verified and kept on the server: run the same command again to resume from there',
  );
});

test('keptPartialsNote does not promise a fresh start for a file in flight with nothing reported yet', () => {
  assert.equal(
    keptPartialsNote([{ file: 'big.bin', keptBytes: 0, size: 100 * MIB }], 'on the server'),
    'no verified part was reported yet (what was in flight may be kept on the server): run the same command again to resume from what was kept',
  );
  assert.equal(
    keptPartialsNote([], 'on the server'),
    'no partial file was kept: run the same command again to start it over (files already complete are skipped)',
  );
});
