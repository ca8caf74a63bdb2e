// A send of several files where one fails part-way tells the truth (issue 12, section 4): the others are
// still sent (as scp and rsync do), the run exits non-zero, and its last lines (text and --json) say which
// files were stored and verified, which were identical and which failed, with their codes. `get` of several
// files or a tree follows the same policy (one module, src/client/job-failure.ts, decides for both).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

type JsonEvent = Record<string, unknown>;

function jsonLines(stdout: string): JsonEvent[] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as JsonEvent);
}

/** The [remotePath, code] of each transfer-failed event. */
function failedOf(events: readonly JsonEvent[]): unknown[][] {
  return events.filter((e) => e['type'] === 'transfer-failed').map((e) => [e['remotePath'], e['code']]);
}

/** The last event is a failed summary with `code`: two files done, one failed, none identical. */
function assertOneFailedSummary(events: readonly JsonEvent[], code: string): JsonEvent {
  const summary = events.at(-1)!;
  assert.equal(summary['type'], 'summary');
  assert.equal(summary['ok'], false);
  assert.equal(summary['code'], code);
  assert.deepEqual([summary['files'], summary['failed'], summary['identical']], [2, 1, 0]);
  return summary;
}

/** Per file: `progress` never before `transfer-started`, and nothing after `transfer-finished`. */
function assertEventOrder(events: readonly JsonEvent[]): void {
  const started = new Set<unknown>();
  const finished = new Set<unknown>();
  for (const event of events) {
    const path = event['remotePath'] as string | undefined;
    if (event['type'] === 'transfer-started') started.add(path);
    if (event['type'] === 'progress' || event['type'] === 'transfer-resumed')
      assert.ok(started.has(path), `${String(event['type'])} of ${path} before its transfer-started`);
    if (event['type'] === 'transfer-finished') finished.add(path);
    else if (path !== undefined)
      assert.ok(!finished.has(path), `${String(event['type'])} of ${path} after it finished`);
  }
}

/** The summary's resumedBytes is the sum over the files' own transfer-finished events. */
function assertResumedAgrees(events: readonly JsonEvent[]): void {
  const summary = events.at(-1)!;
  assert.equal(summary['type'], 'summary');
  const sum = events
    .filter((e) => e['type'] === 'transfer-finished')
    .reduce((total, e) => total + (e['resumedBytes'] as number), 0);
  assert.equal(summary['resumedBytes'], sum, 'summary resumedBytes = sum of the files');
}

/** A served root whose server allows a fresh client key; `common` names the client's home and the server. */
interface ServedRig {
  dir: string;
  root: string;
  server: ServeProcess;
  common: string[];
}

/** Set up a served rig before the suite's tests and take it down after them. */
function servedRig(prefix: string): () => ServedRig {
  let rig: ServedRig | undefined;
  let dir: string | undefined;
  before(async () => {
    dir = await makeTempDir(prefix);
    const clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    const root = join(dir, 'root');
    const keygen = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(keygen, 0, 'keygen');
    assertExit(await runFerry(['--home', serverHome, 'keygen']), 0, 'server keygen');
    assertExit(await runFerry(['--home', serverHome, 'allow', keygen.stdout.trim()]), 0, 'allow');
    const server = await startServe(['--home', serverHome, '--root', root]);
    rig = { dir, root, server, common: ['--home', clientHome, '--expect', server.id, '--chunk-size', '64k'] };
  });
  after(async () => {
    await rig?.server.stop();
    if (dir !== undefined) await removeTempDir(dir);
  });
  return () => rig!;
}

describe('ferry send: one file of several fails', () => {
  const rig = servedRig('ferry-partial-');
  let dir: string;
  let root: string;
  let server: ServeProcess | undefined;
  let common: string[];

  before(() => {
    ({ dir, root, server, common } = rig());
  });

  /** a, b, c locally; on the server b already exists with other content, so b alone is refused. */
  async function scene(name: string): Promise<{ local: string; files: string[]; remote: string }> {
    const local = join(dir, name);
    await mkdir(local);
    const files = ['a', 'b', 'c'].map((f) => join(local, f));
    for (const file of files) await writeRandomFile(file, 200_000); // several chunks each
    await mkdir(join(root, name), { recursive: true });
    await writeFile(join(root, name, 'b'), 'other content');
    return { local, files, remote: `${server!.address}/${name}` };
  }

  test('send a b c where b is refused carries on: c is stored, b is named with its code, exit is non-zero', async () => {
    const { files, remote } = await scene('text');
    const result = await runFerry(['send', ...files, remote, ...common]);
    assertExit(result, 8, 'send with one refused file');
    assert.deepEqual(await readFile(join(root, 'text', 'c')), await readFile(files[2]!), 'c stored in full');
    assert.deepEqual(await readFile(join(root, 'text', 'a')), await readFile(files[0]!), 'a stored in full');
    assert.equal(await readFile(join(root, 'text', 'b'), 'utf8'), 'other content', 'b left alone');
    const lines = result.stderr.trimEnd().split('\n');
    assert.ok(
      lines.some((l) => /^failed: .*\/b -> text\/b FILE_EXISTS: destination exists/.test(l)),
      result.stderr,
    );
    assert.ok(
      lines.some((l) => /\/c -> text\/c \(195 KiB, sent\) digest/.test(l)),
      result.stderr,
    );
    // The closing lines: what was done, what was not, then the error naming the file.
    assert.match(lines.at(-3)!, /^sent 2 files, .*, 1 failed$/);
    assert.match(lines.at(-2)!, /^not sent: .*\/b FILE_EXISTS$/);
    // The refused file is named where it is: on the server, `HOST:PORT/text/b`.
    assert.match(
      lines.at(-1)!,
      /^ferry: FILE_EXISTS: destination exists: 127\.0\.0\.1:\d+\/text\/b \(from the server\); use --overwrite to replace it; 1 of 3 files failed$/,
    );
  });

  test('send --json a b c where b is refused: transfer-failed for b alone, and the summary lists stored and failed files', async () => {
    const { files, remote } = await scene('json');
    const result = await runFerry(['send', '--json', ...files, remote, ...common]);
    assertExit(result, 8, 'send --json with one refused file');
    const events = jsonLines(result.stdout);
    assert.deepEqual(
      failedOf(events),
      [['json/b', 'FILE_EXISTS']],
      'only b failed; c, stored complete, is not counted as failed',
    );
    const summary = assertOneFailedSummary(events, 'FILE_EXISTS');
    assert.deepEqual(summary['storedFiles'], [
      { file: files[0], remotePath: 'json/a' },
      { file: files[2], remotePath: 'json/c' },
    ]);
    assert.deepEqual(summary['identicalFiles'], []);
    assert.deepEqual(summary['failedFiles'], [
      {
        file: files[1],
        remotePath: 'json/b',
        code: 'FILE_EXISTS',
        message: `destination exists: ${server!.address}/json/b; use --overwrite to replace it`,
      },
    ]);
    assertEventOrder(events);
    assertResumedAgrees(events);
  });

  test('send --json of identical files: no progress before transfer-started, and resumedBytes agrees with the summary', async () => {
    const { files, remote } = await scene('same');
    const first = await runFerry(['send', '--json', files[0]!, files[2]!, remote, ...common]);
    assertExit(first, 0, 'first send');
    const again = await runFerry(['send', '--json', files[0]!, files[1]!, files[2]!, remote, ...common]);
    assertExit(again, 8, 'second send, b still refused');
    const events = jsonLines(again.stdout);
    assertEventOrder(events);
    assertResumedAgrees(events);
    const identical = events.filter((e) => e['type'] === 'transfer-finished');
    assert.deepEqual(
      identical.map((e) => [e['remotePath'], e['identical'], e['resumedBytes']]),
      [
        ['same/a', true, 0],
        ['same/c', true, 0],
      ],
    );
    const summary = events.at(-1)!;
    assert.deepEqual(summary['identicalFiles'], [
      { file: files[0], remotePath: 'same/a' },
      { file: files[2], remotePath: 'same/c' },
    ]);
    assert.deepEqual(summary['storedFiles'], []);
  });
});

describe('ferry get: one file of several fails', () => {
  const rig = servedRig('ferry-partial-get-');
  let dir: string;
  let root: string;
  let server: ServeProcess | undefined;
  let common: string[];

  before(() => {
    ({ dir, root, server, common } = rig());
  });

  /** a and c (several chunks each) on the server under `name`; b is not there. */
  async function remoteFiles(name: string): Promise<{ local: string; remote: string }> {
    await mkdir(join(root, name), { recursive: true });
    for (const f of ['a', 'c']) await writeRandomFile(join(root, name, f), 200_000);
    const local = join(dir, `${name}-local`);
    await mkdir(local);
    return { local, remote: `${server!.address}/${name}` };
  }

  test('get a b c where b is missing on the server carries on: a and c are stored, b is named with its code, exit is non-zero', async () => {
    const { local, remote } = await remoteFiles('gtext');
    const result = await runFerry([
      'get',
      `${remote}/a`,
      `${remote}/b`,
      `${remote}/c`,
      `${local}/`,
      ...common,
    ]);
    assertExit(result, 7, 'get with one missing file');
    for (const f of ['a', 'c'])
      assert.deepEqual(await readFile(join(local, f)), await readFile(join(root, 'gtext', f)), `${f} stored`);
    await assert.rejects(readFile(join(local, 'b')), { code: 'ENOENT' }, 'nothing stored for b');
    const lines = result.stderr.trimEnd().split('\n');
    assert.ok(
      lines.some((l) => /^failed: gtext\/b -> .*\/b PATH_NOT_FOUND: /.test(l)),
      result.stderr,
    );
    assert.match(lines.at(-3)!, /^received 2 files, .*, 1 failed$/);
    assert.match(lines.at(-2)!, /^not received: .*\/b PATH_NOT_FOUND$/);
    assert.match(
      lines.at(-1)!,
      /^ferry: PATH_NOT_FOUND: .*: 127\.0\.0\.1:\d+\/gtext\/b \(from the server\); 1 of 3 files failed; `ferry ls 127\.0\.0\.1:\d+\/gtext` lists what is there$/,
    );
  });

  test('get --json a b c where b is missing: planned counts the listed sizes, transfer-failed for b alone, and the summary lists stored and failed files', async () => {
    const { local, remote } = await remoteFiles('gjson');
    const result = await runFerry([
      'get',
      '--json',
      `${remote}/a`,
      `${remote}/b`,
      `${remote}/c`,
      `${local}/`,
      ...common,
    ]);
    assertExit(result, 7, 'get --json with one missing file');
    const events = jsonLines(result.stdout);
    const planned = events.filter((e) => e['type'] === 'planned');
    assert.deepEqual(
      planned.map((e) => [e['files'], e['bytes']]),
      [[3, 400_000]],
      'one planned event; the missing file counts 0 bytes',
    );
    assert.ok(
      events.indexOf(planned[0]!) < events.findIndex((e) => e['type'] === 'transfer-started'),
      'planned comes before any file starts',
    );
    assert.deepEqual(
      failedOf(events),
      [['gjson/b', 'PATH_NOT_FOUND']],
      'only b failed; a and c, stored complete, are not counted as failed',
    );
    const summary = assertOneFailedSummary(events, 'PATH_NOT_FOUND');
    // In the order they were confirmed (TallySummary): a's finish and c's download overlap, so either may be first.
    assert.deepEqual(
      (summary['storedFiles'] as JsonEvent[]).toSorted((x, y) =>
        String(x['remotePath']).localeCompare(String(y['remotePath'])),
      ),
      [
        { file: join(local, 'a'), remotePath: 'gjson/a' },
        { file: join(local, 'c'), remotePath: 'gjson/c' },
      ],
    );
    assert.deepEqual(summary['identicalFiles'], []);
    assert.deepEqual(
      (summary['failedFiles'] as JsonEvent[]).map((f) => [f['file'], f['remotePath'], f['code']]),
      [[join(local, 'b'), 'gjson/b', 'PATH_NOT_FOUND']],
    );
    assertEventOrder(events);
    assertResumedAgrees(events);
  });

  test('get -r --json of a tree where one local file differs: the others are stored, then identical on a rerun, and the differing one fails alone', async () => {
    await mkdir(join(root, 'gtree', 'sub'), { recursive: true });
    for (const f of ['a', 'b', 'sub/c']) await writeRandomFile(join(root, 'gtree', f), 200_000);
    const local = join(dir, 'gtree-local');
    await mkdir(join(local, 'gtree'), { recursive: true });
    await writeFile(join(local, 'gtree', 'b'), 'local content');
    const args = ['get', '-r', '--json', `${server!.address}/gtree`, `${local}/`, ...common];

    const first = await runFerry(args);
    assertExit(first, 8, 'get -r with one differing local file');
    const events = jsonLines(first.stdout);
    assert.deepEqual(
      events.filter((e) => e['type'] === 'planned').map((e) => [e['files'], e['bytes']]),
      [[3, 600_000]],
      'the tree is planned from its listing',
    );
    assert.deepEqual(failedOf(events), [['gtree/b', 'FILE_EXISTS']]);
    for (const f of ['a', 'sub/c'])
      assert.deepEqual(await readFile(join(local, 'gtree', f)), await readFile(join(root, 'gtree', f)), f);
    assert.equal(await readFile(join(local, 'gtree', 'b'), 'utf8'), 'local content', 'b left alone');
    const summary = events.at(-1)!;
    assert.equal(summary['code'], 'FILE_EXISTS');
    assert.deepEqual((summary['storedFiles'] as JsonEvent[]).map((f) => f['remotePath']).sort(), [
      'gtree/a',
      'gtree/sub/c',
    ]);
    assert.match(
      summary['message'] as string,
      /differs from .*\/gtree\/b; use --overwrite to replace it; 1 of 3 files failed$/,
    );
    assertEventOrder(events);
    assertResumedAgrees(events);

    const again = await runFerry(args);
    assertExit(again, 8, 'the rerun: b still differs');
    const rerun = jsonLines(again.stdout);
    assertEventOrder(rerun);
    assertResumedAgrees(rerun);
    const last = rerun.at(-1)!;
    assert.deepEqual(last['storedFiles'], []);
    assert.deepEqual((last['identicalFiles'] as JsonEvent[]).map((f) => f['remotePath']).sort(), [
      'gtree/a',
      'gtree/sub/c',
    ]);
    assert.deepEqual(
      (last['failedFiles'] as JsonEvent[]).map((f) => [f['remotePath'], f['code']]),
      [['gtree/b', 'FILE_EXISTS']],
    );
  });

  test('get -r of a missing source and a tree: the tree is still downloaded, the missing source is named with its code', async () => {
    await mkdir(join(root, 'gboth'), { recursive: true });
    await writeRandomFile(join(root, 'gboth', 'kept'), 200_000);
    const local = join(dir, 'gboth-local');
    await mkdir(local);
    const result = await runFerry([
      'get',
      '-r',
      '--json',
      `${server!.address}/nowhere`,
      `${server!.address}/gboth`,
      `${local}/`,
      ...common,
    ]);
    assertExit(result, 7, 'get -r with one missing source');
    assert.deepEqual(
      await readFile(join(local, 'gboth', 'kept')),
      await readFile(join(root, 'gboth', 'kept')),
    );
    const events = jsonLines(result.stdout);
    assert.deepEqual(failedOf(events), [['nowhere', 'PATH_NOT_FOUND']]);
    const summary = events.at(-1)!;
    assert.equal(summary['code'], 'PATH_NOT_FOUND');
    // As the stderr line says it: the server's words marked, then ferry's count and next step.
    assert.match(
      summary['message'] as string,
      /127\.0\.0\.1:\d+\/nowhere \(from the server\); 1 of 2 files failed; `ferry ls 127\.0\.0\.1:\d+` lists what is there$/,
    );
    assert.equal(result.stderr.split('\n').at(-2), `ferry: PATH_NOT_FOUND: ${summary['message'] as string}`);
    assert.deepEqual(
      (summary['storedFiles'] as JsonEvent[]).map((f) => f['remotePath']),
      ['gboth/kept'],
    );
    assertEventOrder(events);
  });
});
