// syncTree both ways when only a file's mode or mtime changed (issue 16): the mirror gets the new mode (and,
// with `checksum`, the new mtime) without the file being offered or requested (SET_ATTRIBUTES, PROTOCOL.md
// §5.19, up; the same rule on this machine, down), and a second re-sync finds nothing to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  syncTree,
  type ConnectOptions,
  type SyncEvent,
  type SyncTreeOptions,
} from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

/** Seconds with a fraction that survives libuv's microsecond truncation exactly. */
function secondsOf(mtimeMs: number): number {
  return (mtimeMs + 0.0004) / 1000;
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o7777;
}

async function mtimeOf(path: string): Promise<number> {
  return Math.trunc((await stat(path)).mtimeMs);
}

for (const direction of ['upload', 'download'] as const) {
  test(`syncTree (${direction}) gives a file whose mode or mtime alone changed the new one without sending it`, async (t) => {
    const client = generateKeyPair();
    const { dir, server } = await startTempDirServer(t, `ferry-sync-attr-${direction}-`, {
      authorize: (key) =>
        key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
    });
    const connect: ConnectOptions = {
      server: server.address,
      identity: client,
      verifyServer: () => undefined,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    };
    // SRC is local up and on the server down; DST the other side.
    const src = direction === 'upload' ? join(dir, 'src') : join(server.root, 'src');
    const local = direction === 'upload' ? src : join(dir, 'dst');
    const remotePath = direction === 'upload' ? 'dst' : 'src';
    const dst = direction === 'upload' ? join(server.root, 'dst') : local;
    await mkdir(join(src, 'sub'), { recursive: true });
    for (const name of ['script.sh', 'sub/notes.txt', 'kept.txt']) {
      await writeFile(join(src, name), `${name}\n`);
      await chmod(join(src, name), 0o644);
      await utimes(join(src, name), secondsOf(1_600_000_000_111), secondsOf(1_600_000_000_111));
    }
    const sync = async (extra: Partial<SyncTreeOptions> = {}): Promise<SyncEvent[]> => {
      const events: SyncEvent[] = [];
      await syncTree({
        ...connect,
        direction,
        localDir: local,
        remotePath,
        onEvent: (e) => events.push(e),
        ...extra,
      });
      return events;
    };
    const offered = (events: readonly SyncEvent[]): number =>
      events.filter((e) => e.type === 'transfer-started').length;
    const actionsOf = (events: readonly SyncEvent[], action: string): string[] =>
      events.flatMap((e) => (e.type === 'sync-action' && e.action === action ? [e.path] : []));
    assert.equal(offered(await sync()), 3);

    // chmod moves ctime, never mtime: the quick check sees the same file, only its mode differs.
    await chmod(join(src, 'script.sh'), 0o755);
    await chmod(join(src, 'sub', 'notes.txt'), 0o4600);
    const modes = await sync();
    assert.deepEqual(actionsOf(modes, 'attributes'), ['script.sh', 'sub/notes.txt']);
    assert.equal(offered(modes), 0, 'no file was offered or requested');
    assert.equal(await modeOf(join(dst, 'script.sh')), 0o755);
    assert.equal(await modeOf(join(dst, 'sub', 'notes.txt')), 0o600, 'setuid never arrives');
    assert.equal(await modeOf(join(dst, 'kept.txt')), 0o644);
    assert.equal(await mtimeOf(join(dst, 'script.sh')), 1_600_000_000_111, 'the mtime kept');

    // Another mtime, the same content: the quick check sends it (as a delta), --checksum only sets the mtime.
    await utimes(join(src, 'kept.txt'), secondsOf(1_700_000_000_222), secondsOf(1_700_000_000_222));
    const touched = await sync({ checksum: true });
    assert.deepEqual(actionsOf(touched, 'attributes'), ['kept.txt']);
    assert.equal(offered(touched), 0, 'an mtime alone is set, not sent');
    assert.equal(await mtimeOf(join(dst, 'kept.txt')), 1_700_000_000_222);

    const again = await sync();
    assert.deepEqual(actionsOf(again, 'attributes'), []);
    // The three files, `sub` and the top: no directory needs its attributes again either.
    assert.equal(actionsOf(again, 'skip').length, 5, 'nothing left to do');
    assert.deepEqual(actionsOf(again, 'dir'), []);
  });
}
