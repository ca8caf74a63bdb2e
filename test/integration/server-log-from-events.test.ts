// The server's log is one subscriber of its event stream (src/server/server-log.ts): over a real loopback
// server, every ServerEvent type shows up in the log as its line, each event exactly once (no hand-written
// second copy from a handler), and downloads are logged like uploads: started, finished with the digest,
// failed with the code. Refusals keep their code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer, type ServerEvent, type ServerEventType } from '../../src/server/index.js';
import { getFiles, sendFiles, syncTree, type TransferEvent } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { rewriteKeepingSizeAndMtime } from '../helpers/rewrite-keeping-size-and-mtime.js';
import { writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const FILE_BYTES = 16 * CHUNK_BYTES + 123;
const MTIME_S = 1_700_000_000;

/** The log line (its `event` field) each ServerEvent type becomes; the compiler wants every type here. */
const LINE_OF: Record<ServerEventType, (event: ServerEvent) => string> = {
  'session-opened': () => 'session-opened',
  'session-refused': () => 'session',
  'session-closed': () => 'session',
  'operation-refused': () => 'refused',
  'transfer-started': () => 'transfer-start',
  progress: () => 'progress',
  'transfer-finished': (event) =>
    event.type === 'transfer-finished' && event.identical ? 'transfer-identical' : 'transfer-done',
  'transfer-failed': () => 'transfer-failed',
  'entry-removed': () => 'entry-removed',
  'attributes-set': () => 'attributes-set',
};

type Line = Record<string, unknown>;

function failure(promise: Promise<unknown>): Promise<{ code?: string } | undefined> {
  return promise.then(
    () => undefined,
    (err: unknown) => err as { code?: string },
  );
}

test('every ServerEvent of a real server becomes its log line exactly once, downloads logged like uploads', async (t) => {
  const dir = await makeTempDir('ferry-server-log-');
  t.after(() => removeTempDir(dir));
  const lines: Line[] = [];
  const logger = pino(
    { level: 'trace' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Line) },
  );
  const client = generateKeyPair();
  const stranger = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: (key) =>
      key.equals(client.publicKey)
        ? { name: 'laptop', permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }
        : undefined,
    partialSweepIntervalMs: 0,
    logger,
  });
  t.after(() => server.close());
  const events: ServerEvent[] = [];
  server.events.on('event', (event) => events.push(event));
  const common = {
    server: server.address,
    identity: client,
    verifyServer: (): void => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    chunkBytes: CHUNK_BYTES,
  };

  // An upload, the same upload again (identical), a different file under the same name (refused).
  const source = join(dir, 'data.bin');
  await writeRandomFile(source, FILE_BYTES);
  await sendFiles({ ...common, files: [source] });
  await sendFiles({ ...common, files: [source] });
  const other = join(dir, 'other', 'data.bin');
  await mkdir(join(dir, 'other'));
  await writeFile(other, 'different content\n');
  assert.equal((await failure(sendFiles({ ...common, files: [other] })))?.code, 'FILE_EXISTS');

  // A download, with the digest the client verified.
  const clientEvents: TransferEvent[] = [];
  await getFiles({
    ...common,
    remotePaths: ['data.bin'],
    localDir: join(dir, 'got'),
    onEvent: (event) => clientEvents.push(event),
  });
  const verified = clientEvents.find((e) => e.type === 'transfer-finished');
  assert.ok(verified?.type === 'transfer-finished');

  // A failed upload and a failed download (the source changes under the sender).
  const live = join(dir, 'live.bin');
  await writeRandomFile(live, FILE_BYTES);
  await utimes(live, MTIME_S, MTIME_S);
  const upload = failure(
    sendFiles({
      ...common,
      files: [live],
      onEvent: (event) => {
        if (event.type === 'transfer-started') rewriteKeepingSizeAndMtime(live, 3 * CHUNK_BYTES, MTIME_S);
      },
    }),
  );
  assert.equal((await upload)?.code, 'SOURCE_CHANGED');
  const served = join(server.root, 'served.bin');
  await writeRandomFile(served, FILE_BYTES);
  await utimes(served, MTIME_S, MTIME_S);
  let rewritten = false;
  const rewrite = (event: ServerEvent): void => {
    if (event.type === 'progress' && event.transfer.direction === 'download' && !rewritten) {
      rewritten = true;
      rewriteKeepingSizeAndMtime(served, 10 * CHUNK_BYTES, MTIME_S);
    }
  };
  server.events.on('event', rewrite);
  const download = failure(getFiles({ ...common, remotePaths: ['served.bin'], localDir: join(dir, 'got2') }));
  assert.equal((await download)?.code, 'SOURCE_CHANGED');
  server.events.off('event', rewrite);

  // A sync up, then again with --delete after one file lost its group bits and another was removed here:
  // the server gives the first SRC's mode without its data, and removes the second.
  const tree = join(dir, 'tree');
  await mkdir(tree);
  await writeFile(join(tree, 'keep.txt'), 'keep');
  await writeFile(join(tree, 'gone.txt'), 'gone');
  await chmod(join(tree, 'keep.txt'), 0o640);
  const sync = { ...common, direction: 'upload' as const, localDir: tree, remotePath: 'mirror' };
  await syncTree(sync);
  await chmod(join(tree, 'keep.txt'), 0o600);
  await rm(join(tree, 'gone.txt'));
  const mirrored = await syncTree({ ...sync, delete: true });
  assert.deepEqual([mirrored.attributesSet, mirrored.deleted], [1, 1]);

  // A client not on the allow-list.
  const refused = await failure(sendFiles({ ...common, identity: stranger, files: [source] }));
  assert.equal(refused?.code, 'CLIENT_NOT_ALLOWED');

  await server.close(); // every session has ended, so every session line is written

  // Every type was seen, and each event is its line exactly once: the same count per line name.
  const seen = new Set(events.map((e) => e.type));
  for (const type of Object.keys(LINE_OF) as ServerEventType[])
    assert.ok(seen.has(type), `the run produced no ${type} event`);
  const expected = new Map<string, number>();
  const bump = (name: string): void => void expected.set(name, (expected.get(name) ?? 0) + 1);
  for (const event of events) {
    bump(LINE_OF[event.type](event));
    // A refused session is logged as a refusal and as a session, when the peer's key was seen.
    if (event.type === 'session-refused' && event.peerId !== undefined) bump('refused');
  }
  const logged = new Map<string, number>();
  for (const line of lines) {
    const name = line['event'] === 'session opened' ? 'session-opened' : String(line['event']);
    logged.set(name, (logged.get(name) ?? 0) + 1);
  }
  for (const [name, count] of expected)
    assert.equal(logged.get(name) ?? 0, count, `${name}: ${count} events, ${logged.get(name) ?? 0} lines`);

  // Downloads like uploads: start, finish with the digest the client verified, failure with its code.
  const downloadStart = lines.find((l) => l['event'] === 'transfer-start' && l['direction'] === 'download');
  assert.equal(downloadStart?.['path'], 'data.bin');
  assert.equal(downloadStart?.['size'], FILE_BYTES);
  const downloadDone = lines.find((l) => l['event'] === 'transfer-done' && l['direction'] === 'download');
  assert.equal(downloadDone?.['msg'], 'download sent');
  assert.equal(downloadDone?.['digest'], verified.digest.toString('hex').slice(0, 16));
  assert.ok(
    lines.some(
      (l) =>
        l['event'] === 'transfer-failed' && l['direction'] === 'download' && l['code'] === 'SOURCE_CHANGED',
    ),
  );
  assert.ok(
    lines.some(
      (l) =>
        l['event'] === 'transfer-failed' && l['direction'] === 'upload' && l['code'] === 'SOURCE_CHANGED',
    ),
  );
  const uploadDone = lines.find((l) => l['event'] === 'transfer-done' && l['direction'] === 'upload');
  assert.equal(uploadDone?.['msg'], 'upload verified');
  assert.equal(typeof uploadDone?.['digest'], 'string');
  assert.ok(lines.some((l) => l['event'] === 'transfer-identical' && l['direction'] === 'upload'));

  // What a sync changed without moving data, by the client's path, with what it did.
  const removed = lines.find((l) => l['event'] === 'entry-removed');
  assert.deepEqual(
    [removed?.['path'], removed?.['kind'], removed?.['client']],
    ['mirror/gone.txt', 'file', 'laptop'],
  );
  const attributes = lines.find((l) => l['event'] === 'attributes-set');
  assert.deepEqual([attributes?.['path'], attributes?.['mode']], ['mirror/keep.txt', '0600']);

  // Refusals with their codes.
  assert.ok(
    lines.some((l) => l['event'] === 'refused' && l['code'] === 'FILE_EXISTS' && l['client'] === 'laptop'),
  );
  assert.ok(lines.some((l) => l['event'] === 'refused' && l['code'] === 'CLIENT_NOT_ALLOWED'));

  // Sessions keep the fields README.md's "Logs" promises.
  const sessions = lines.filter((l) => l['event'] === 'session');
  for (const session of sessions)
    for (const field of [
      'peer',
      'remote',
      'result',
      'filesReceived',
      'bytesReceived',
      'filesSent',
      'bytesSent',
      'durationMs',
    ])
      assert.ok(field in session, `session line without ${field}: ${JSON.stringify(session)}`);
  assert.ok(
    sessions.some((s) => s['result'] === 'ok' && s['client'] === 'laptop' && s['filesSent'] === 1),
    'the download session counts its file',
  );
});
