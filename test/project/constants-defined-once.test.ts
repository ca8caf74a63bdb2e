// Issue 13: a wire constant defined twice drifts (AEAD_TAG_BYTES and HASH_BYTES once were). Every exported
// upper-case constant in src/ has exactly one definition; other modules re-export it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

test('every exported constant of src/ is defined in one file only', async () => {
  const definedIn = new Map<string, string[]>();
  const files = (await readdir(SRC, { recursive: true })).filter((name) => name.endsWith('.ts'));
  for (const file of files) {
    const text = await readFile(join(SRC, file), 'utf8');
    for (const match of text.matchAll(/^export const ([A-Z][A-Z0-9_]*)\b/gm))
      definedIn.set(match[1]!, [...(definedIn.get(match[1]!) ?? []), file]);
  }
  assert.ok(definedIn.has('HASH_BYTES') && definedIn.has('MODE_PAIRING'), 'the scan finds the constants');
  const twice = [...definedIn].filter(([, where]) => where.length > 1);
  assert.deepEqual(twice, [], 'constants defined more than once');
});
