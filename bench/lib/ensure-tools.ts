// The baselines need OpenSSH, rsync, socat, netcat and GNU time. On a fresh machine they are installed from
// Debian (we run as root there); elsewhere the missing ones are reported and their rows skipped.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Each tool the benchmarks run, the file that proves it is there, and the Debian package that brings it. */
const TOOLS = {
  sshd: { path: '/usr/sbin/sshd', pkg: 'openssh-server' },
  ssh: { path: '/usr/bin/ssh', pkg: 'openssh-client' },
  scp: { path: '/usr/bin/scp', pkg: 'openssh-client' },
  rsync: { path: '/usr/bin/rsync', pkg: 'rsync' },
  socat: { path: '/usr/bin/socat', pkg: 'socat' },
  nc: { path: '/usr/bin/nc', pkg: 'netcat-openbsd' },
  time: { path: '/usr/bin/time', pkg: 'time' },
} as const;

/** A tool name of {@link TOOLS}. */
export type ToolName = keyof typeof TOOLS;

/** Which tools are present after trying to install the missing ones. */
export function ensureTools(log: (line: string) => void): Set<ToolName> {
  const missing = (): ToolName[] =>
    (Object.keys(TOOLS) as ToolName[]).filter((t) => !existsSync(TOOLS[t].path));
  const before = missing();
  if (before.length > 0) {
    const packages = [...new Set(before.map((t) => TOOLS[t].pkg))];
    const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
    if (canInstall) {
      log(`installing ${packages.join(' ')} from Debian (missing: ${before.join(', ')})...`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      // Another apt may be running (a colleague installing chromium): wait for its lock rather than fail.
      const lock = ['-o', 'DPkg::Lock::Timeout=300'];
      spawnSync('apt-get', [...lock, 'update', '-qq'], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env,
        timeout: 600_000,
      });
      spawnSync('apt-get', [...lock, 'install', '-y', '-qq', ...packages], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env,
        timeout: 600_000,
      });
    } else {
      log(`missing ${before.join(', ')}; install: apt-get install -y ${packages.join(' ')}`);
    }
  }
  const still = new Set(missing());
  return new Set((Object.keys(TOOLS) as ToolName[]).filter((t) => !still.has(t)));
}
