// `ferry serve` turns V8's incremental marking off (src/cli/serve-heap.ts, issue 14: the major-GC storms of a
// long-running server's later sessions). Checked in real Node processes under --trace-gc, against a control
// that shows the same work does start an incremental marking without the setting, so a Node upgrade that
// ignores the flag set at run time fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const HELPER = fileURLToPath(new URL('../../src/cli/serve-heap.ts', import.meta.url));

/**
 * Runs a child that (optionally) applies the serve setting, then keeps small objects, in batches, until a
 * major collection was reported (perf_hooks 'gc' entries). The heap is capped at 128 MB, so its first limit
 * comes within the ~180 MB the loop may keep (measured: 150,000-350,000 of the 1,000,000 objects). Returns
 * the child's --trace-gc lines.
 */
async function majorCollections(tuned: boolean): Promise<string[]> {
  const script = `
    import { PerformanceObserver, constants } from 'node:perf_hooks';
    import { setImmediate as turn } from 'node:timers/promises';
    ${tuned ? `const { tuneServeHeap } = await import(${JSON.stringify(HELPER)}); tuneServeHeap();` : ''}
    let major = false;
    new PerformanceObserver((list) => {
      if (list.getEntries().some((e) => e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) major = true;
    }).observe({ entryTypes: ['gc'] });
    const kept = [];
    while (!major && kept.length < 1_000_000) {
      for (let i = 0; i < 50_000; i++) kept.push({ i, s: 'entry ' + kept.length, a: [i, i + 1] });
      await turn();
    }
    process.stdout.write('major ' + major + '\\n');
  `;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--trace-gc', '--max-old-space-size=128', '--input-type=module', '-e', script],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, `child failed: ${stderr}`);
  assert.match(stdout, /^major true$/m, 'no major GC was reported');
  return stdout.split('\n').filter((line) => line.includes('Mark-Compact'));
}

test('without the serve setting, the same work starts an incremental marking (the control)', async () => {
  const lines = await majorCollections(false);
  assert.ok(
    lines.some((line) => line.includes('incremental marking')),
    `expected an incrementally marked major GC:\n${lines.join('\n')}`,
  );
});

test('tuneServeHeap: major collections still run, none of them incrementally marked', async () => {
  const lines = await majorCollections(true);
  assert.ok(lines.length > 0, 'expected a major GC in the trace');
  assert.deepEqual(
    lines.filter((line) => line.includes('incremental marking')),
    [],
    'a major GC was marked incrementally',
  );
});
