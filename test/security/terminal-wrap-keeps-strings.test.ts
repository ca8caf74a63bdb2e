// A string from the other side reaches a terminal as exactly as it reaches a pipe (docs/SECURITY.md "Terminal
// output": distinct strings always print distinctly): the CLI's wrapping of errors and notes on a terminal
// (stop 40, `wrapText`) breaks lines between words and must not change what is between them. Before, it
// joined words with single spaces, so a run of spaces in a server's detail or in a name (`a  b.txt`, a
// trailing `secret `) printed as one space or none: two names that differ so printed alike on a terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../../src/errors/index.js';
import { errorLines } from '../../src/cli/error-lines.js';
import { noteLines } from '../../src/cli/note-lines.js';
import { runOnTerminal } from '../helpers/run-on-terminal.js';
import { startHostileRig } from './hostile-server.js';

/** What ferry's errors and notes start with, and so how far their later lines are indented. */
const INDENT = ' '.repeat('ferry: '.length);

/** The lines a terminal shows joined back at the breaks the wrapping made (a break stands for one space). */
function unwrapped(lines: readonly string[]): string {
  return lines.map((line, index) => (index === 0 ? line : line.slice(INDENT.length))).join(' ');
}

/** Runs of spaces inside, before and after words, as names and details may hold them. */
const SPACED = [
  'a  b.txt',
  'secret ',
  ' leading',
  'three   spaces and `one  quoted` span',
  'wide   '.repeat(9),
];

test('errors and notes wrapped for a terminal keep every space of the other side`s strings', () => {
  for (const width of [200, 60, 30]) {
    for (const text of SPACED) {
      const error = new FerryError('FILE_EXISTS', undefined, { subject: `dir/${text}` });
      const whole = errorLines(error, undefined);
      assert.equal(whole.length, 1);
      assert.equal(unwrapped(errorLines(error, width)), whole[0], `error at ${width} columns`);
      const note = `ferry: kept dir/${text} for a resume`;
      assert.equal(unwrapped(noteLines(note, width)), note, `note at ${width} columns`);
    }
  }
  // Two names that differ only in their spaces print differently.
  const a = errorLines(new FerryError('FILE_EXISTS', undefined, { subject: 'a  b.txt' }), 200);
  const b = errorLines(new FerryError('FILE_EXISTS', undefined, { subject: 'a b.txt' }), 200);
  assert.notDeepEqual(a, b);
});

test('a hostile server`s refusal with runs of spaces prints on a terminal as it does to a pipe', async (t) => {
  const rig = await startHostileRig(t, 'ferry-wrap-spaces-');
  const detail = 'refused   file  a  b.txt (not   a b.txt) ';
  rig.hostile.script = { entries: [], putError: { code: 'PERMISSION_DENIED', detail } };
  const source = join(rig.work, 'up.bin');
  await writeFile(source, Buffer.alloc(200 * 1024, 2));
  const sent = await runOnTerminal(['send', source, `${rig.target}/in`, ...rig.common]);
  assert.notEqual(sent.code, 0, sent.output);
  const shown = sent.output.replace(/\r/g, '').replace(new RegExp(`\\n${INDENT}`, 'g'), ' ');
  assert.ok(shown.includes(`${detail} (from the server)`), JSON.stringify(sent.output));
});
