import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** One entry of a tree as the file system keeps it. */
export interface EntrySnapshot {
  kind: 'file' | 'dir' | 'link';
  mode: number;
  /** Whole milliseconds, as the protocol carries them. */
  mtimeMs: number;
  sha256?: string;
  target?: string;
}

/**
 * Every entry under `top` by relative path, without following links; with `includeTop`, `top` itself too
 * (as '').
 */
export async function snapshotTree(
  top: string,
  options: { includeTop?: boolean } = {},
): Promise<Map<string, EntrySnapshot>> {
  const out = new Map<string, EntrySnapshot>();
  const visit = async (path: string, relative: string): Promise<void> => {
    const st = await lstat(path);
    const base = { mode: st.mode & 0o7777, mtimeMs: Math.trunc(st.mtimeMs) };
    if (st.isSymbolicLink()) {
      out.set(relative, { kind: 'link', ...base, mode: 0, target: await readlink(path) });
    } else if (st.isDirectory()) {
      if (relative !== '' || options.includeTop) out.set(relative, { kind: 'dir', ...base });
      for (const name of await readdir(path))
        await visit(join(path, name), relative === '' ? name : `${relative}/${name}`);
    } else {
      const sha256 = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
      out.set(relative, { kind: 'file', ...base, sha256 });
    }
  };
  await visit(top, '');
  return out;
}

/**
 * Compares two snapshots by kind, mode, mtime (to the millisecond), content and link target, and fails with
 * every difference at once, so a red run shows the whole picture.
 */
export function assertSameTree(
  actual: Map<string, EntrySnapshot>,
  expected: Map<string, EntrySnapshot>,
  what: string,
): void {
  const problems: string[] = [];
  for (const [path, want] of expected) {
    const got = actual.get(path);
    if (!got) problems.push(`${path || '.'}: missing`);
    else
      for (const key of ['kind', 'mode', 'mtimeMs', 'sha256', 'target'] as const)
        if (got[key] !== want[key])
          problems.push(`${path || '.'}: ${key} ${String(got[key])}, expected ${String(want[key])}`);
  }
  for (const path of actual.keys()) if (!expected.has(path)) problems.push(`${path}: unexpected`);
  assert.deepEqual(problems, [], `${what}:\n${problems.join('\n')}`);
}

/**
 * Everything under `top` in one comparable record: a file's SHA-256, a link's `-> target`, `dir` for a
 * directory (no modes or mtimes), for attack tests proving nothing around a destination or root changed.
 */
export async function contentsUnder(top: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(top, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const key = path.slice(top.length + 1);
    if (entry.isSymbolicLink()) out[key] = `-> ${await readlink(path)}`;
    else if (entry.isDirectory()) out[key] = 'dir';
    else
      out[key] = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
  }
  return out;
}
