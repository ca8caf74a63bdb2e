// docs/PROTOCOL.md as the doc tests read it: the spec's tables are checked against the code's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const PROTOCOL = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');

/** The text of the section whose heading starts with `heading`, up to the next heading of any level. */
export function protocolSection(heading: string): string {
  const lines = PROTOCOL.split('\n');
  const start = lines.findIndex((line) => line.startsWith(heading));
  assert.ok(start >= 0, `PROTOCOL.md has no heading ${heading}`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('#'));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}
