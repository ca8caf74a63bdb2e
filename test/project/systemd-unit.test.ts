// The systemd unit in contrib/systemd (issue 12: running a server for real) is checked by systemd itself,
// its hardening is scored, and what it runs exists: every flag of its ExecStart, and its example config.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FERRY_BIN, runFerry, startServe, type CliResult } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CONTRIB = fileURLToPath(new URL('../../contrib/systemd/', import.meta.url));
const UNIT = join(CONTRIB, 'ferry.service');
/** Where the unit expects `npm install -g` to have put ferry (npm's prefix /usr). */
const INSTALLED_FERRY = '/usr/bin/ferry';
/** `systemd-analyze security` scores 0 (locked down) to 10 (exposed); "OK" ends at 4.9. */
const MAX_EXPOSURE = 2.0;

let dir: string;
let unitText: string;
/** The unit with ExecStart pointing at this checkout's bin/ferry, so systemd can check it is executable. */
let testUnit: string;

async function systemdAnalyze(args: readonly string[]): Promise<CliResult> {
  const child = spawn('systemd-analyze', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve, reject) => {
    // A machine without systemd fails here and says so; it never skips.
    child.once('error', (err) =>
      reject(new Error(`systemd-analyze cannot run (${err.message}): apt-get install -y systemd`)),
    );
    child.once('close', resolve);
  });
  return { code, stdout, stderr };
}

before(async () => {
  dir = await makeTempDir('ferry-systemd-');
  unitText = await readFile(UNIT, 'utf8');
  testUnit = join(dir, 'ferry.service');
  await writeFile(testUnit, unitText.replaceAll(INSTALLED_FERRY, FERRY_BIN));
});

after(async () => {
  await removeTempDir(dir);
});

/** `Key=value` lines of the unit (comments and section headers left out). */
function directives(text: string): [string, string][] {
  return text
    .split('\n')
    .filter((line) => /^[A-Za-z]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
}

test('systemd-analyze verify accepts contrib/systemd/ferry.service without a single warning', async () => {
  const result = await systemdAnalyze(['verify', testUnit]);
  assert.equal(result.code, 0, result.stderr);
  // verify exits 0 on an unknown or misspelt key and only warns: any output is a defect.
  assert.equal(result.stderr.trim(), '', 'systemd-analyze verify warned');
});

test('the unit runs as its own user with a state directory, restarts on failure and is hardened', async () => {
  const unit = new Map(directives(unitText));
  assert.equal(unit.get('User'), 'ferry');
  assert.equal(unit.get('StateDirectory'), 'ferry');
  assert.equal(unit.get('Restart'), 'on-failure');
  for (const key of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'PrivateDevices'])
    assert.equal(unit.get(key), 'yes', key);
  assert.equal(unit.get('ProtectSystem'), 'strict');
  assert.equal(unit.get('CapabilityBoundingSet'), '', 'no capabilities at all');
  // V8 needs writable executable memory; this setting would make node abort at start.
  assert.equal(unit.has('MemoryDenyWriteExecute'), false);
  const sysusers = await readFile(join(CONTRIB, 'ferry.sysusers'), 'utf8');
  assert.match(
    sysusers,
    /^u ferry - .* \/var\/lib\/ferry$/m,
    'ferry.sysusers creates the user the unit names',
  );

  const security = await systemdAnalyze(['security', '--offline=yes', '--no-pager', testUnit]);
  const exposure = /Overall exposure level for ferry\.service: ([\d.]+)/.exec(
    security.stdout + security.stderr,
  );
  assert.ok(exposure, `no exposure score:\n${security.stdout}\n${security.stderr}`);
  console.log(`systemd-analyze security exposure: ${exposure[1]}`);
  assert.ok(Number(exposure[1]) <= MAX_EXPOSURE, `exposure ${exposure[1]} above ${MAX_EXPOSURE}`);
});

test('every flag the unit passes exists, and its example serve.json starts a server', async () => {
  const execStart = new Map(directives(unitText)).get('ExecStart')!;
  const [binary, command, ...args] = execStart.split(/\s+/);
  assert.equal(binary, INSTALLED_FERRY);
  assert.equal(command, 'serve');
  const help = await runFerry(['serve', '--help']);
  assert.equal(help.code, 0, help.stderr);
  for (const flag of args.filter((a) => a.startsWith('--')))
    assert.match(help.stdout, new RegExp(`${flag}\\b`), `ferry serve has no ${flag}`);

  // The example config, as the unit reads it; only the address and root move to the test's loopback and temp
  // folder (flags win over the file), so every other key of it is validated and applied by the real server.
  const server = await startServe([
    '--home',
    join(dir, 'home'),
    '--init',
    '--config',
    join(CONTRIB, 'serve.json'),
    '--listen',
    '127.0.0.1:0',
    '--root',
    join(dir, 'root'),
  ]);
  await server.stop();
  assert.match(server.address, /^127\.0\.0\.1:\d+$/);
});
