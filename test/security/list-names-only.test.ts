// LIST_REQUEST with NAMES_ONLY (PROTOCOL.md §5.12) from a client with a valid key, over a raw session: the
// path rules of every listing hold (no `..`, no absolute path, `.ferry` at the top reserved, a directory
// reached through a link refused, a link inside listed as a link and never followed), and a download-only
// grant is still needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  type ListEntry,
  type Message,
} from '../../src/protocol/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

test('LIST NAMES_ONLY keeps every path rule: escaping and reserved paths refused, links listed and never followed, download permission needed', async (t) => {
  const reader = generateKeyPair();
  const writer = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-list-names-', {
    authorize: (key) =>
      key.equals(reader.publicKey)
        ? { permissions: PERMISSION_DOWNLOAD }
        : key.equals(writer.publicKey)
          ? { permissions: PERMISSION_UPLOAD }
          : undefined,
  });
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  await mkdir(join(outside, 'deep'), { recursive: true });
  await writeFile(join(outside, 'deep', 'secret.txt'), 'secret\n');
  await mkdir(join(root, 'tree'), { recursive: true });
  await writeFile(join(root, 'tree', 'a.txt'), 'a\n');
  await symlink(outside, join(root, 'tree', 'out'));
  await symlink(outside, join(root, 'lnk'));

  const session = await openAdmittedSession(t, server.address, reader);
  let ref = 0;
  const list = async (path: string): Promise<{ entries: ListEntry[]; end?: Message; error?: number }> => {
    await session.send({
      type: 'LIST_REQUEST',
      ref: ++ref,
      path,
      recursive: true,
      selfOnly: false,
      namesOnly: true,
    });
    const entries: ListEntry[] = [];
    for (;;) {
      const message = await session.receive();
      if (message.type === 'LIST_ENTRIES') entries.push(...message.entries);
      else if (message.type === 'LIST_END') return { entries, end: message };
      else if (message.type === 'ERROR') return { entries, error: message.code };
      else assert.fail(`unexpected ${message.type}`);
    }
  };
  const tree = await list('tree');
  assert.deepEqual(
    tree.entries.map((e) => [e.path, e.kind, e.linkTarget]),
    [
      ['a.txt', 'file', ''],
      ['out', 'link', outside],
    ],
    'the link is listed as a link; nothing behind it is',
  );
  const whole = await list('');
  assert.ok(!whole.entries.some((e) => e.path.includes('secret')), 'nothing outside the root is listed');
  assert.ok(!whole.entries.some((e) => e.path.toLowerCase().startsWith('.ferry')), '.ferry is never listed');
  // A link named itself is listed as that one link, never what it leads to.
  const named = await list('lnk');
  assert.deepEqual(
    named.entries.map((e) => [e.path, e.kind]),
    [['lnk', 'link']],
  );
  for (const [path, code] of [
    ['lnk/deep', 'PATH_ESCAPES_ROOT'],
    ['tree/out/deep', 'PATH_ESCAPES_ROOT'],
    ['.ferry', 'PATH_INVALID'],
    ['.ferry/partial', 'PATH_INVALID'],
  ] as const) {
    const answer = await list(path);
    assert.deepEqual([answer.entries, answer.error], [[], ERROR_CODES[code].wire], path);
  }
  // The codec refuses what no remote path may be (§7.1): the session ends, coded.
  for (const path of ['../outside', '/etc']) {
    const s = await openAdmittedSession(t, server.address, reader);
    const sent = await s
      .send({ type: 'LIST_REQUEST', ref: 1, path, recursive: true, selfOnly: false, namesOnly: true })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    if (sent) continue; // refused before it left
    const answer = await s.receive();
    assert.equal(answer.type, 'ERROR', `${path}: ${JSON.stringify(answer)}`);
  }
  const upOnly = await openAdmittedSession(t, server.address, writer);
  await upOnly.send({
    type: 'LIST_REQUEST',
    ref: 1,
    path: 'tree',
    recursive: true,
    selfOnly: false,
    namesOnly: true,
  });
  const refused = await upOnly.receive();
  assert.deepEqual(
    refused.type === 'ERROR' ? refused.code : refused.type,
    ERROR_CODES.PERMISSION_DENIED.wire,
    'NAMES_ONLY needs the download permission like any listing',
  );
});
