// The dashboard shows what clients chose: the paths they upload to, and the details of their refusals. A
// path may hold Unicode format characters (PROTOCOL.md §7.1 refuses only controls): a right-to-left override
// makes `invoice\u202Efdp.exe` read "invoiceexe.pdf" on the page, since `textContent` keeps no markup but shows
// every character as it acts. Every string of the page's snapshot now comes as the terminal shows it
// (`escapeForTerminal`: the override as the six visible characters `\u202E`). Real server, real dashboard over
// HTTP on loopback, a real upload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { sendFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { Dashboard } from '../../src/web/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

/** Every string anywhere in `value`. */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsOf);
  return [];
}

test('a path with bidi overrides and invisible characters reaches the dashboard page as visible escapes', async (t) => {
  const { dir, server } = await startTempDirServer(t, 'ferry-dashboard-strings-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
  });
  const dashboard = await Dashboard.start({ server, port: 0 });
  t.after(() => dashboard.close());
  const name = 'invoice\u202Efdp.exe\u2066\u200B';
  const local = join(dir, name);
  await writeFile(local, 'not a pdf\n');
  await sendFiles({
    server: server.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    files: [local],
  });
  const { host, port } = dashboard.address;
  const response = await fetch(`http://${host}:${port}/snapshot.json`, {
    headers: { authorization: `Bearer ${dashboard.token}` },
  });
  assert.equal(response.status, 200);
  const text = await response.text();
  const strings = stringsOf(JSON.parse(text));
  const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
  assert.deepEqual(
    strings.filter((s) => unsafe.test(s)),
    [],
    'no string of the snapshot holds a control or format character',
  );
  assert.ok(
    strings.some((s) => s.includes('invoice\\u202Efdp.exe\\u2066\\u200B')),
    `the path is shown with its characters made visible: ${text}`,
  );
});
