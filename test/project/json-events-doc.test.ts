// README.md's "JSON events" table is what scripts are written against: every `--json` line type with its
// fields. This test builds one event of every TransferEvent type (the compiler insists on all of them), makes
// it a `--json` line with the CLI's own converter, and holds each line's fields against the table's row, so
// a field or an event added to the code without the README (as `transfer-delta` and `reusedBytes` were)
// fails here, and so does a row for an event that no longer exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { TransferEvent, TransferEventType } from '../../src/index.js';
import { summaryJsonEvent, toJsonEvent } from '../../src/cli/json-events.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Every line has these, and a transfer's lines the subject's: the prose above the table says so. */
const COMMON = new Set(['v', 'type', 'time', 'direction', 'file', 'remotePath']);

/** The table's rows: `type` -> the fields cell. */
function documentedRows(): Map<string, string> {
  const section = README.slice(README.indexOf('### JSON events'));
  const table = section.slice(0, section.indexOf('\n###'));
  const rows = new Map<string, string>();
  for (const line of table.split('\n')) {
    const cells = /^\| `([a-z-]+)` +\| (.*?) +\| .* \|$/.exec(line);
    // The header row names its columns: `type` | fields | when.
    if (cells && cells[1] !== 'type') rows.set(cells[1]!, cells[2]!);
  }
  return rows;
}

const subject = { direction: 'download', file: '/tmp/a', remotePath: 'a' } as const;

/** One event of each type, with every optional field set. */
const SAMPLES: { [K in TransferEventType]: Extract<TransferEvent, { type: K }> } = {
  planned: { type: 'planned', files: 1, bytes: 1 },
  'session-opened': { type: 'session-opened', serverPublicKey: Buffer.alloc(32), serverId: 'x', attempt: 1 },
  'transfer-started': { type: 'transfer-started', ...subject, size: 1, heldBytes: 0, restarted: false },
  'transfer-resumed': { type: 'transfer-resumed', ...subject, size: 1, fromBytes: 0 },
  progress: { type: 'progress', ...subject, verifiedBytes: 1, size: 1 },
  stalled: { type: 'stalled', attempt: 1, message: 'm' },
  retrying: { type: 'retrying', attempt: 2, delayMs: 1, code: 'CONNECTION_CLOSED', message: 'm' },
  'transfer-delta': { type: 'transfer-delta', ...subject, coveredBytes: 1, literalBytes: 0 },
  'transfer-finished': {
    type: 'transfer-finished',
    ...subject,
    size: 1,
    digest: Buffer.alloc(32),
    transferredBytes: 1,
    resumedBytes: 0,
    reusedBytes: 0,
    restarted: false,
    identical: false,
  },
  'transfer-failed': { type: 'transfer-failed', ...subject, code: 'FILE_EXISTS', message: 'm' },
  'entry-created': { type: 'entry-created', kind: 'dir', remotePath: 'd' },
  'entry-failed': { type: 'entry-failed', kind: 'dir', remotePath: 'd', code: 'PATH_INVALID', message: 'm' },
  'entry-skipped': { type: 'entry-skipped', path: 'p', reason: 'r' },
};

test('README "JSON events" has a row for every --json line type, naming every field the line carries', () => {
  const rows = documentedRows();
  const lines = [
    ...Object.values(SAMPLES).map((event) => toJsonEvent(event, 0)),
    summaryJsonEvent(
      {
        files: 0,
        identical: 0,
        failed: 0,
        bytes: 0,
        transferredBytes: 0,
        resumedBytes: 0,
        durationMs: 0,
        digest: undefined,
        storedFiles: [],
        identicalFiles: [],
        failedFiles: [],
      },
      { ok: false, code: 'FILE_EXISTS', message: 'm' },
      0,
    ),
  ];
  for (const line of lines) {
    const fields = rows.get(line.type);
    assert.ok(fields !== undefined, `README's JSON events table has no row for \`${line.type}\``);
    for (const key of Object.keys(line).filter((k) => !COMMON.has(k)))
      assert.ok(
        fields.includes(`\`${key}\``),
        `the \`${line.type}\` row does not name \`${key}\`: ${fields}`,
      );
  }
  const types = new Set(lines.map((line) => line.type));
  for (const type of rows.keys())
    assert.ok(types.has(type), `README documents \`${type}\`, which no line has`);
});
