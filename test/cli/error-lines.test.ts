// Every error the CLI can print, with realistic long values (a server's name and port, a deep path, 64-char
// ferry ids, a kept note naming two files), as an 80-column terminal shows it: no line past the width but
// one that is a single word (a command to paste that is wider than a line), no word, command or id split,
// nothing lost; to a pipe, one line. The errors come from the code that makes them where it is not just the
// table's row (the server key checks of src/home, the refusal of a client, the kept note, the hints).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERROR_CODES, FerryError, type ErrorCode } from '../../src/errors/index.js';
import { formatFerryId, generateKeyPair } from '../../src/crypto/index.js';
import { checkServerKey, pinServer } from '../../src/home/index.js';
import { sessionErrorFrom } from '../../src/client/session-error.js';
import { errorLines } from '../../src/cli/error-lines.js';
import { keptPartialsNote } from '../../src/cli/kept-partials-note.js';
import { withRemoteMissingHint } from '../../src/cli/remote-missing-hint.js';
import { withListingNotGrantedHint } from '../../src/cli/listing-not-granted-hint.js';
import { withLocalNameHint } from '../../src/cli/local-name-hint.js';
import { withDiskFullHint } from '../../src/cli/disk-full-hint.js';
import { lineWidth } from '../../src/cli/terminal-width.js';
import { visibleWidth } from '../../src/cli/progress-line.js';

const COLUMNS = 80;
const ADDRESS = 'files.backup-storage.example.com:7443';
const REMOTE = `${ADDRESS}/projects/2026/holiday-pictures/originals/a-rather-long-file-name-0042.tar.gz`;
const LOCAL = '/home/someone/Documents/projects/2026/holiday-pictures/a-rather-long-file-name-0042.tar.gz';
/** A detail as the code writes them: values, no path of the other side. */
const DETAIL = 'expected offset 1073741824, got 536870912 (chunk 256 of 1024)';

/** The errors the code makes that say more than their row, by code (several for some). */
async function builtErrors(dir: string): Promise<Array<{ code: ErrorCode; error: FerryError }>> {
  const home = join(dir, 'home');
  const serverKey = generateKeyPair().publicKey;
  const caught = async (run: () => Promise<unknown>): Promise<FerryError> => {
    try {
      await run();
    } catch (err) {
      if (err instanceof FerryError) return err;
      throw err;
    }
    assert.fail('no error');
  };
  const unknown = await caught(() => checkServerKey(home, { address: ADDRESS, publicKey: serverKey }));
  await pinServer(home, { address: 'backup.internal:7443', id: formatFerryId(serverKey) });
  const unknownPinnedElsewhere = await caught(() =>
    checkServerKey(home, { address: ADDRESS, publicKey: serverKey }),
  );
  const other = formatFerryId(generateKeyPair().publicKey);
  const expectedOther = await caught(() =>
    checkServerKey(home, { address: ADDRESS, publicKey: serverKey }, { expectId: other }),
  );
  await pinServer(home, { address: ADDRESS, id: other });
  const changed = await caught(() => checkServerKey(home, { address: ADDRESS, publicKey: serverKey }));
  const clientId = formatFerryId(generateKeyPair().publicKey);
  const refused = sessionErrorFrom(
    { type: 'ERROR', ref: 0, code: ERROR_CODES.CLIENT_NOT_ALLOWED.wire, detail: '' },
    { clientId, serverId: other, address: { host: 'files.backup-storage.example.com', port: 7443 } },
  );
  const partials = [
    { file: LOCAL, size: 4 * 2 ** 30, keptBytes: 1.5 * 2 ** 30 },
    { file: `${LOCAL}.sha256`, size: 2 ** 20, keptBytes: 2 ** 19 },
    { file: `${LOCAL}.par2`, size: 2 ** 20, keptBytes: 2 ** 19 },
  ];
  const diskFull = join(dir, 'a-rather-long-file-name-0042.tar.gz');
  await writeFile(join(dir, '.a-rather-long-file-name-0042.tar.gz.ferry-part'), Buffer.alloc(8192));
  return [
    { code: 'SERVER_KEY_UNKNOWN', error: unknown },
    { code: 'SERVER_KEY_UNKNOWN', error: unknownPinnedElsewhere },
    { code: 'SERVER_KEY_CHANGED', error: expectedOther },
    { code: 'SERVER_KEY_CHANGED', error: changed },
    { code: 'CLIENT_NOT_ALLOWED', error: refused },
    {
      code: 'ABORTED',
      error: new FerryError('ABORTED', 'interrupted', { hint: keptPartialsNote(partials, 'on the server') }),
    },
    {
      code: 'CONNECTION_CLOSED',
      error: new FerryError('CONNECTION_CLOSED', 'econnreset').withHint(keptPartialsNote([], 'locally')),
    },
    {
      code: 'PATH_NOT_FOUND',
      error: withRemoteMissingHint(
        new FerryError('PATH_NOT_FOUND', undefined, { remote: true, subject: REMOTE }),
      ) as FerryError,
    },
    {
      code: 'PERMISSION_DENIED',
      error: withListingNotGrantedHint(
        new FerryError('PERMISSION_DENIED', 'listing not granted', { remote: true }),
        { src: LOCAL, dst: REMOTE },
      ) as FerryError,
    },
    {
      code: 'CONNECT_FAILED',
      error: withLocalNameHint(
        new FerryError('CONNECT_FAILED', 'unknown host (enotfound)', {
          subject: 'holiday-pictures-backup:7443',
        }),
        'holiday-pictures-backup',
      ) as FerryError,
    },
    {
      code: 'DISK_FULL',
      error: (await withDiskFullHint(
        new FerryError('DISK_FULL', undefined, { subject: diskFull }),
      )) as FerryError,
    },
  ];
}

/**
 * One word, which the wrapping rule leaves whole however wide: a path, or a command's word, with ` \` after it
 * when the command goes on (a command wider than a line is continued between its words, never left whole).
 */
function isOneWord(text: string): boolean {
  return !/\s/.test(text.trim().replace(/ \\$/, ''));
}

test('every error fits an 80-column terminal, wrapped between words, none split', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-error-lines-'));
  try {
    const built = await builtErrors(dir);
    const errors = [
      ...built,
      // Every row of the table as well, with its own hint, about a long remote path, and as the server's.
      ...(Object.keys(ERROR_CODES) as ErrorCode[]).flatMap((code) => [
        { code, error: new FerryError(code, DETAIL, { subject: REMOTE }) },
        { code, error: new FerryError(code, DETAIL, { remote: true }) },
      ]),
    ];
    assert.deepEqual(
      new Set(errors.map(({ code }) => code)),
      new Set(Object.keys(ERROR_CODES)),
      'every code',
    );
    const width = lineWidth({ isTTY: true, columns: COLUMNS });
    let wrapped = 0;
    for (const { code, error } of errors) {
      assert.equal(error.code, code);
      const [line, ...none] = errorLines(error, undefined);
      assert.deepEqual(none, [], 'one line to a pipe');
      const lines = errorLines(error, width);
      const shown = lines.join('\n');
      if (lines.length > 1) wrapped++;
      for (const each of lines)
        assert.ok(visibleWidth(each) <= width || isOneWord(each), `past ${width} columns:\n${shown}`);
      // Nothing lost or changed: the lines are the one line broken at some of its spaces, a command wider
      // than a line continued as a shell continues it (` \` at the end of a line: a shell joins the two).
      const joined = lines.map((each) => each.trim()).join(' ');
      assert.equal(joined.replaceAll(' \\ ', ' '), line, shown);
      // An id on one line; a command to paste on one, or continued line to line between its words.
      for (const id of line!.match(/[a-z2-7]{9}(?:-[a-z2-7]{1,9}){4,}/g) ?? [])
        assert.ok(
          lines.some((each) => each.includes(id)),
          `${id} split:\n${shown}`,
        );
      for (const command of joined.match(/`[^`]*`/g) ?? [])
        assert.ok(
          lines.some((each) => each.includes(command)) || command.includes(' \\ '),
          `${command} split:\n${shown}`,
        );
    }
    // The long ones did wrap: an unknown key's error alone is over 400 columns on one line.
    assert.ok(errorLines(built[0]!.error, undefined)[0]!.length > 5 * COLUMNS);
    assert.ok(wrapped >= built.length, `${wrapped} wrapped`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
