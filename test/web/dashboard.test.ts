// End to end in a real browser: `ferry serve --dashboard` (the compiled CLI), real transfers from the
// library through a gate proxy, and headless Chromium (Debian's, else the npm one: find-chromium.ts) driven
// by playwright-core. "Live" is made observable without sleeping: the gate holds the client's bytes at a
// known point, the test waits for the page to show the transfer there, then raises the gate and waits for
// the page to show the outcome.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import {
  formatFerryId,
  loadIdentity,
  sendFiles,
  syncTree,
  type KeyPair,
  type UploadResult,
} from '../../src/index.js';
import { FERRY_BIN, ferryEnv, runFerry } from '../helpers/cli.js';
import { ferryCommand } from '../../src/cli/ferry-command.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';
import { CHROMIUM_ARGS, findChromium } from './find-chromium.js';
import { GateProxy } from './gate-proxy.js';
import {
  loopbackDashboardArgs,
  startServeWithDashboard,
  type DashboardServe,
} from './serve-with-dashboard.js';

/**
 * How the server's hints name ferry: as the shell of the server's environment runs it (`ferry` on ferryEnv's
 * PATH, else `./bin/ferry` in a checkout, src/cli/ferry-command.ts).
 */
const FERRY = ferryCommand(FERRY_BIN, process.cwd(), ferryEnv()['PATH']);

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const KIB = 1024;
const MIB = 1024 * KIB;
const LIVE_FILE_BYTES = 8 * MIB;
const CHUNK_BYTES = 64 * KIB;

/**
 * Waits until the live row for `name` shows verified bytes that satisfy `{ atLeast }` (or, with
 * `{ gone: true }`, until the row left the live table). Polled in the page on animation frames; a
 * function, not a string, because the page's CSP rightly forbids eval.
 */
async function waitForLive(
  page: Page,
  name: string,
  condition: { atLeast: number } | { gone: true },
): Promise<void> {
  const what =
    'gone' in condition ? `${name} leaving the live table` : `${name} live past ${condition.atLeast} bytes`;
  try {
    await page.waitForFunction(
      ({ name, atLeast }) => {
        // The test's TypeScript has no DOM types: describe the little of the page this reads.
        type Row = { textContent: string | null; dataset: Record<string, string | undefined> };
        const page = globalThis as unknown as {
          document: { querySelectorAll(selector: string): Iterable<Row> };
        };
        const rows = [...page.document.querySelectorAll('#live tbody tr')];
        const row = rows.find((r) => String(r.textContent).includes(name));
        return atLeast === null
          ? row === undefined
          : row !== undefined && Number(row.dataset.verified) >= atLeast;
      },
      { name, atLeast: 'gone' in condition ? null : condition.atLeast },
    );
  } catch (err) {
    const shown = await page.textContent('#live').catch(() => '?');
    throw new Error(`the dashboard never showed ${what}: ${(err as Error).message}\nlive table: ${shown}`, {
      cause: err,
    });
  }
}

describe('web dashboard (headless Chromium)', () => {
  let dir: string;
  let clientHome: string;
  let files: string;
  let serve: DashboardServe | undefined;
  let gate: GateProxy | undefined;
  let browser: Browser | undefined;
  let identity: KeyPair;

  before(async () => {
    // A machine without any Chromium fails here, loudly, never skips (findChromium says what is missing).
    const chromiumBinary = await findChromium();
    dir = await makeTempDir('ferry-dashboard-');
    clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    files = join(dir, 'files');
    await mkdir(files);
    const keygen = await runFerry(['--home', clientHome, 'keygen']);
    assert.equal(keygen.code, 0, keygen.stderr);
    assert.equal((await runFerry(['--home', serverHome, 'keygen'])).code, 0);
    const allowed = await runFerry(['--home', serverHome, 'allow', keygen.stdout.trim(), '--name', 'laptop']);
    assert.equal(allowed.code, 0, allowed.stderr);
    identity = await loadIdentity(clientHome);
    serve = await startServeWithDashboard([
      ...loopbackDashboardArgs(serverHome, join(dir, 'root')),
      // Small durability batches: the server reports verified progress every 64 KiB.
      '--durable-batch',
      '64k',
    ]);
    gate = await GateProxy.start(serve.address);
    browser = await chromium
      .launch({ executablePath: chromiumBinary.executablePath, args: [...CHROMIUM_ARGS], headless: true })
      .catch((err: unknown) => {
        throw new Error(`could not launch ${chromiumBinary.source}: ${(err as Error).message}`, {
          cause: err,
        });
      });
    await mkdir(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await gate?.close();
    await serve?.stop();
    await removeTempDir(dir);
  });

  /** Sends one file through the gate with the library; resolves with its verified result. */
  function send(
    name: string,
    options: { retries?: number; overwrite?: boolean } = {},
  ): Promise<UploadResult[]> {
    return sendFiles({
      server: gate!.address,
      identity,
      verifyServer: (key) => assert.equal(formatFerryId(key), serve!.id),
      files: [join(files, name)],
      chunkBytes: CHUNK_BYTES,
      retry: { retries: options.retries ?? 0 },
      ...(options.overwrite === true ? { overwrite: true } : {}),
    });
  }

  test('without the token, or with a wrong one, every route answers 401; with it the page carries strict headers', async () => {
    const url = new URL(serve!.dashboardUrl);
    const token = url.searchParams.get('token')!;
    assert.match(token, /^[A-Za-z0-9_-]{32}$/, 'a random URL-safe token is printed at start-up');
    const base = `${url.protocol}//${url.host}`;
    // Differs from the token in its last character, whatever that is (a fixed 'x' is the token 1 time in 64).
    const wrongToken = `${token.slice(0, -1)}${token.endsWith('x') ? 'y' : 'x'}`;
    for (const path of ['/', '/dashboard.js', '/dashboard.css', '/events', '/snapshot.json']) {
      assert.equal((await fetch(`${base}${path}`)).status, 401, `${path} without a token`);
      assert.equal((await fetch(`${base}${path}?token=${wrongToken}`)).status, 401, `${path}, wrong token`);
    }
    const bearer = await fetch(`${base}/snapshot.json`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(bearer.status, 200, 'the token also works as a bearer token');

    const page = await fetch(serve!.dashboardUrl);
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline script allowed');
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('cache-control'), 'no-store', 'the token page is never cached');
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.doesNotMatch(await page.text(), /<script>|<style>| style=/, 'no inline code');

    const context = await browser!.newContext();
    try {
      const refused = await (await context.newPage()).goto(`${base}/?token=nope-nope-nope-nope`);
      assert.equal(refused?.status(), 401, 'the browser gets 401 too');
    } finally {
      await context.close();
    }
  });

  test('a transfer shows live while it runs, then as verified with its digest; a cut one as failed with its code', async () => {
    await writeFile(join(files, 'notes.txt'), 'meeting notes: ship the dashboard\n'.repeat(2000));
    await writeRandomFile(join(files, 'cut.bin'), 2 * MIB);
    await writeRandomFile(join(files, 'live.bin'), LIVE_FILE_BYTES);
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (err) => problems.push(err.message));
    try {
      await page.goto(serve!.dashboardUrl);
      await page.waitForSelector('#connection[data-state="live"]');
      assert.equal(await page.textContent('#server-id'), serve!.id, 'the page shows the server ID');
      assert.equal(
        await page.textContent('#server-address'),
        `${serve!.address.host}:${serve!.address.port}`,
        'and its listen address',
      );
      await page.waitForSelector('#clients tbody tr:has-text("laptop")');
      assert.equal(await page.isHidden('#clients-empty'), true, 'no "no client is allowed" while one is');
      assert.equal(await page.textContent('#server-root'), join(dir, 'root'), 'the root is shown');
      assert.match(
        (await page.textContent('#server-free')) ?? '',
        /^\d+(\.\d+)? [KMGT]?i?B$/,
        'and its free disk',
      );

      // The hint for a first invite names this server's home, as the banner does: `ferry invite` alone
      // would make the code in the default home, which this server never reads.
      assert.equal(
        await page.textContent('#invites-empty code'),
        `${FERRY} --home ${join(dir, 'server-home')} invite --name NAME`,
      );

      // An open invite is listed by id and name, never with its code.
      const invite = await runFerry([
        '--home',
        join(dir, 'server-home'),
        'invite',
        '--name',
        'phone',
        '--json',
      ]);
      const { code, id: inviteId } = JSON.parse(invite.stdout) as { code: string; id: string };
      await page.waitForSelector(`#invites tbody tr[data-invite="${inviteId}"]:has-text("phone")`);
      assert.ok(
        !((await page.textContent('body')) ?? '').includes(code.slice(4)),
        'the code never reaches the page',
      );

      // A client that is not allowed: refused with its full ID and the command that would admit it.
      const strangerHome = join(dir, 'stranger-home');
      const strangerId = (await runFerry(['--home', strangerHome, 'keygen'])).stdout.trim();
      const stranger = await runFerry([
        ...['--home', strangerHome, 'ls', `${serve!.address.host}:${serve!.address.port}`],
        ...['--expect', serve!.id, '--retries', '0'],
      ]);
      assert.notEqual(stranger.code, 0);
      const refused = page.locator('#refused tbody tr[data-code="CLIENT_NOT_ALLOWED"]');
      await refused.waitFor();
      assert.equal(await refused.locator('.client-id').textContent(), strangerId);
      // With this server's home: a bare `ferry allow` would write another home's allow-list.
      assert.equal(
        await refused.locator('.admit').textContent(),
        `${FERRY} --home ${join(dir, 'server-home')} allow ${strangerId} --name NAME`,
      );

      // A pairing code this server never made (another home's): refused, with the command that makes a
      // new code, the one thing that helps (the failure does not say whether it was wrong, expired or used).
      await runFerry(['--home', join(dir, 'other-home'), 'keygen']);
      const otherInvite = await runFerry(['--home', join(dir, 'other-home'), 'invite', '--json']);
      const otherCode = (JSON.parse(otherInvite.stdout) as { code: string }).code;
      const paired = await runFerry([
        ...['--home', strangerHome, 'pair', `${serve!.address.host}:${serve!.address.port}`, otherCode],
      ]);
      assert.match(paired.stderr, /PAIRING_FAILED/, paired.stderr);
      const failedPairing = page.locator('#refused tbody tr[data-code="PAIRING_FAILED"]');
      await failedPairing.waitFor();
      assert.equal(
        await failedPairing.locator('.admit').textContent(),
        `${FERRY} --home ${join(dir, 'server-home')} invite --name NAME`,
      );

      // A client that does not trust this server's key hangs up before showing its own: the row says
      // what that most likely means, since the server cannot know.
      const wary = await runFerry([
        ...['--home', strangerHome, 'ls', `${serve!.address.host}:${serve!.address.port}`],
        ...['--expect', strangerId, '--retries', '0'],
      ]);
      assert.match(wary.stderr, /SERVER_KEY_/, wary.stderr);
      const hungUp = page.locator('#refused tbody tr[data-code="CONNECTION_CLOSED"] .hung-up');
      await hungUp.first().waitFor();
      assert.equal(
        await hungUp.first().textContent(),
        "it hung up before showing its key: does it trust this server's key?",
      );

      // A quick file: it lands in "recent" as verified.
      const [notes] = await send('notes.txt');
      await page.waitForSelector(
        `#recent tbody tr[data-outcome="finished"]:has-text("notes.txt") .digest[data-digest="${notes!.digest.toString('hex')}"]`,
      );

      // The same file changed a little and sent again over it: a delta, marked as one and never as resumed
      // (the server held the old file's bytes at its start).
      await writeFile(
        join(files, 'notes.txt'),
        'meeting notes: ship the dashboard\n'.repeat(1999) + 'shipped\n',
      );
      await send('notes.txt', { overwrite: true });
      const delta = page.locator('#recent tbody tr[data-outcome="finished"][data-delta="true"]', {
        hasText: 'notes.txt',
      });
      await delta.waitFor();
      assert.match((await delta.textContent()) ?? '', /Δ delta/);
      assert.doesNotMatch((await delta.textContent()) ?? '', /resumed/);

      // A transfer cut in the middle: live first, then failed with the code the server saw.
      gate!.allow(512 * KIB);
      const cut = send('cut.bin');
      cut.catch(() => undefined);
      await waitForLive(page, 'cut.bin', { atLeast: 1 });
      gate!.cutAll();
      await assert.rejects(
        cut,
        (err: { code?: string }) => err.code === 'CONNECTION_CLOSED' || err.code === 'STALLED',
      );
      // Cut, not refused: shown as interrupted with what the server holds, never as a red failure.
      const interrupted = page.locator('#recent tbody tr[data-outcome="interrupted"]', {
        hasText: 'cut.bin',
      });
      await interrupted.waitFor();
      assert.equal(await interrupted.getAttribute('data-code'), 'CONNECTION_CLOSED');
      assert.match((await interrupted.textContent()) ?? '', /interrupted · \d+(\.\d+)? KiB held/);
      assert.equal(await page.locator('#recent tbody tr[data-outcome="failed"]').count(), 0);
      // The same send again resumes it, and the page says so.
      gate!.allow(Number.POSITIVE_INFINITY);
      await send('cut.bin');
      gate!.allow(0);
      await page.waitForSelector(
        '#recent tbody tr[data-outcome="finished"]:has-text("cut.bin"):has-text("resumed")',
      );

      // The live transfer: held after 1 MiB, then let through in steps, each one seen on the page.
      gate!.allow(1 * MIB);
      const live = send('live.bin');
      live.catch(() => undefined);
      await waitForLive(page, 'live.bin', { atLeast: 1 });
      const row = page.locator('#live tbody tr', { hasText: 'live.bin' });
      assert.match((await row.textContent()) ?? '', /laptop/, 'the live row names the client');
      assert.equal(await row.getAttribute('data-state'), 'active');
      for (const step of [3, 5]) {
        gate!.allow(2 * MIB);
        await waitForLive(page, 'live.bin', { atLeast: (step - 1) * MIB });
      }
      // The sparkline needs two throughput samples (one per second on the server).
      await page.waitForSelector('#live tbody tr:has-text("live.bin") svg.spark polyline', {
        state: 'attached',
      });
      const verified = Number(await row.getAttribute('data-verified'));
      assert.ok(verified > 0 && verified < LIVE_FILE_BYTES, `live, not finished: ${verified} bytes verified`);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

      gate!.allow(Number.POSITIVE_INFINITY);
      const [result] = await live;
      const digest = result!.digest.toString('hex');
      await page.waitForSelector(
        `#recent tbody tr[data-outcome="finished"]:has-text("live.bin") .digest[data-digest="${digest}"]`,
      );
      await waitForLive(page, 'live.bin', { gone: true });
      assert.equal(await page.textContent('#stat-finished'), '4');
      assert.equal(await page.textContent('#stat-failed'), '0', 'an interrupted transfer is not a failure');
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-finished.png'), fullPage: true });
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-dark.png'), fullPage: true });
      assert.deepEqual(problems, [], 'no script errors or CSP violations in the page');
    } finally {
      await context.close();
    }
  });

  test("a sync's removals (--delete) and mode-only updates show as rows with their badges", async () => {
    const tree = join(dir, 'sync-src');
    await mkdir(join(tree, 'old-dir'), { recursive: true });
    await writeFile(join(tree, 'keep.txt'), 'keep');
    await writeFile(join(tree, 'gone.txt'), 'gone');
    await writeFile(join(tree, 'old-dir', 'inner.txt'), 'inner');
    await chmod(join(tree, 'keep.txt'), 0o644);
    const sync = {
      server: serve!.address,
      identity,
      verifyServer: (key: Buffer): void => assert.equal(formatFerryId(key), serve!.id),
      retry: { retries: 0 },
      direction: 'upload' as const,
      localDir: tree,
      remotePath: 'mirror',
    };
    await syncTree(sync);
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    try {
      await page.goto(serve!.dashboardUrl);
      await page.waitForSelector('#connection[data-state="live"]');
      await chmod(join(tree, 'keep.txt'), 0o600);
      await rm(join(tree, 'gone.txt'));
      await rm(join(tree, 'old-dir'), { recursive: true });
      const summary = await syncTree({ ...sync, delete: true });
      assert.deepEqual([summary.attributesSet, summary.deleted], [1, 3]);
      const row = (outcome: string, name: string) =>
        page.locator(`#recent tbody tr[data-outcome="${outcome}"]`, { hasText: name });
      await row('attributes-set', 'mirror/keep.txt').waitFor();
      assert.match((await row('attributes-set', 'keep.txt').textContent()) ?? '', /✎ mode 0600 · mtime/);
      for (const [name, badge] of [
        ['mirror/gone.txt', '− removed'],
        ['mirror/old-dir/inner.txt', '− removed'],
        ['mirror/old-dir', '− directory removed'],
      ] as const) {
        const removed = page.locator('#recent tbody tr[data-outcome="removed"]').filter({
          has: page.locator('.path', { hasText: new RegExp(`^${name}$`) }),
        });
        await removed.waitFor();
        assert.match((await removed.textContent()) ?? '', new RegExp(badge), name);
      }
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-sync-changes.png'), fullPage: true });
      assert.deepEqual(problems, [], 'no script errors in the page');
    } finally {
      await context.close();
    }
  });

  test('a tab whose token stopped working (the server restarted) says so and what to do, instead of reconnecting for ever', async () => {
    const home = join(dir, 'server-home');
    const args = ['--home', home, '--root', join(dir, 'root3'), '--listen', '127.0.0.1:0'];
    let first: DashboardServe | undefined = await startServeWithDashboard([
      ...args,
      '--dashboard',
      '127.0.0.1:0',
    ]);
    let second: DashboardServe | undefined;
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(first.dashboardUrl);
      await page.waitForSelector('#connection[data-state="live"]');
      assert.equal(await page.isHidden('#expired'), true);
      const port = new URL(first.dashboardUrl).port;
      await first.stop();
      first = undefined;
      // Restarted on the same port: a new token, so the old tab's one is refused from now on.
      second = await startServeWithDashboard([...args, '--dashboard', `127.0.0.1:${port}`]);
      await page.waitForSelector('#connection[data-state="expired"]');
      assert.match((await page.textContent('#expired')) ?? '', /no longer works.*ferry serve/s);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-expired.png') });
    } finally {
      await context.close();
      await Promise.all([first?.stop(), second?.stop()]);
    }
  });

  test('serve refuses a non-loopback dashboard without --dashboard-public', async () => {
    const result = await runFerry([
      '--home',
      join(dir, 'server-home'),
      'serve',
      '--root',
      join(dir, 'root2'),
      '--listen',
      '127.0.0.1:0',
      '--dashboard',
      '0.0.0.0:0',
    ]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /USAGE_INVALID.*--dashboard-public/);
  });
});
