import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { CLUSTER_REFUSAL_DETAIL } from '../../src/protocol/index.js';

test('PROTOCOL.md §3.2.2 gives the cluster refusal detail CLUSTER_REFUSAL_DETAIL is, word for word', async () => {
  const spec = await readFile(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  const section = spec.slice(spec.indexOf('- 3.2.2 '), spec.indexOf('- 3.2.3 '));
  assert.ok(section.replace(/\s+/g, ' ').includes(`sends exactly \`${CLUSTER_REFUSAL_DETAIL}\``), section);
});
