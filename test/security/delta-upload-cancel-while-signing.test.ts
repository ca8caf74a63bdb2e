// A delta upload's server signs its old file in the background (PROTOCOL.md §5.15.2, issue 16), so the
// session goes on reading: PUT_COPY of blocks already sent is served while the rest is signed, and a CANCEL
// stops the signing at its next read (`DeltaOldFile.stopSigning`). `acceptPartialUpload` returns the signing
// from an async function, which flattens it: the offer's handling awaits the whole signing, and the session
// reads nothing meanwhile (stop 39, helper sec: a CANCEL sent after the first DELTA_BLOCKS of a 256 MiB old
// file was read after all 64 records, ~2 s later; returned in an object, 2 records came after it). TODO until
// the owner of the server's delta receive fixes it (the lead's call): it fails now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const MIB = 1024 * 1024;
/** 32 records of signature (4 MiB of the file each), far more than the few signed while a CANCEL travels. */
const OLD_BYTES = 128 * MIB;

test(
  'a CANCEL sent while a delta upload`s old file is signed stops the signing at once',
  { todo: 'acceptPartialUpload flattens the signing it returns: the offer awaits it (report of stop 39)' },
  async (t) => {
    const { dir, server } = await startTempDirServer(t, 'ferry-delta-cancel-signing-', {
      authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    });
    await writeFile(join(dir, 'root', 'old.bin'), 'old');
    await truncate(join(dir, 'root', 'old.bin'), OLD_BYTES);
    const session = await openAdmittedSession(t, server.address, generateKeyPair());
    await session.send({
      type: 'PUT_OFFER',
      ref: 1,
      size: OLD_BYTES,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: 4 * MIB,
      mode: 0o644,
      overwrite: true,
      fresh: false,
      delta: true,
      path: 'old.bin',
    });
    let records = 0;
    for (;;) {
      const message = await session.receive();
      if (message.type === 'DELTA_BLOCKS') break;
      assert.equal(message.type, 'PUT_ACCEPT', `expected the signature, got ${message.type}`);
    }
    await session.send({ type: 'CANCEL', ref: 1 });
    // Answered in order once the CANCEL was handled: every record of ref 1 before it was signed until then.
    await session.send({ type: 'PUT_DIR', ref: 2, path: 'after', mode: 0o755, mtimeMs: 1_700_000_000_000 });
    for (;;) {
      const message = await session.receive();
      if (message.type === 'DELTA_BLOCKS') records += 1;
      else if (message.type === 'ACK') break;
    }
    assert.ok(records <= 8, `${records} records of signature after the CANCEL`);
  },
);
