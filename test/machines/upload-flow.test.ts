// UploadFlow, the rule of how long an upload's promise of disk lasts while a session holds it (docs/SECURITY.md,
// "Findings of the stop 43 pass"): numbers and a clock given with every step, nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLOWING_HORIZON_MS, UploadFlow } from '../../src/machines/index.js';

const MiB = 1024 * 1024;
const LEAF = 64 * 1024;
const MINUTE = 60_000;

test('UploadFlow stalls an upload that sends nothing for its stall timeout, and never with a timeout of 0', () => {
  const flow = new UploadFlow(10 * MiB, MINUTE, 0);
  assert.equal(flow.stalled(MINUTE), false);
  assert.equal(flow.stalled(MINUTE + 1), true);
  assert.equal(new UploadFlow(10 * MiB, 0, 0).stalled(FLOWING_HORIZON_MS), false);
});

test('UploadFlow does not count a trickle: 100 bytes a minute stall it, a leaf within the minute keeps it', () => {
  const trickle = new UploadFlow(10 * MiB, MINUTE, 0);
  assert.equal(trickle.arrived(100, MINUTE - 1), 'flowing');
  assert.equal(trickle.stalled(MINUTE + 1), true);
  assert.equal(trickle.arrived(100, MINUTE + 1), 'behind');
  const leaf = new UploadFlow(10 * MiB, MINUTE, 0);
  assert.equal(leaf.arrived(LEAF, MINUTE - 1), 'flowing');
  assert.equal(leaf.stalled(2 * MINUTE - 2), false);
  assert.equal(leaf.stalled(2 * MINUTE), true);
});

test("UploadFlow asks a large upload for a day's pace of its size: 40 GiB must write 28.4 MiB a minute", () => {
  const size = 40 * 1024 * MiB;
  const pace = Math.ceil((size * MINUTE) / FLOWING_HORIZON_MS);
  const flow = new UploadFlow(size, MINUTE, 0);
  assert.equal(flow.arrived(pace - 1, MINUTE - 1), 'flowing');
  assert.equal(flow.stalled(MINUTE + 1), true, 'one byte short of the pace');
  // Catching up after the stall is the caller's to promise again; the flow itself stays stalled.
  assert.equal(flow.arrived(1, MINUTE + 1), 'caught-up');
  assert.equal(flow.stalled(MINUTE + 1), true);
  const kept = new UploadFlow(size, MINUTE, 0);
  assert.equal(kept.arrived(pace, MINUTE - 1), 'flowing');
  assert.equal(kept.stalled(2 * MINUTE - 2), false);
});

test("UploadFlow: a signing read at the pace keeps it and never revives it; the server's own work holds it and restarts the timeout", () => {
  const signing = new UploadFlow(10 * MiB, MINUTE, 0);
  signing.signed(LEAF, MINUTE - 1);
  assert.equal(signing.stalled(2 * MINUTE - 2), false);
  assert.equal(signing.stalled(2 * MINUTE), true);
  signing.signed(LEAF, 2 * MINUTE);
  assert.equal(signing.stalled(2 * MINUTE), true);
  const busy = new UploadFlow(10 * MiB, MINUTE, 0);
  const work = busy.busy();
  assert.equal(busy.stalled(10 * MINUTE), false);
  work.done(10 * MINUTE);
  assert.equal(busy.stalled(11 * MINUTE), false);
  assert.equal(busy.stalled(11 * MINUTE + 1), true);
});
