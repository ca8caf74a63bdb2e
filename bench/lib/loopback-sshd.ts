// A throwaway OpenSSH server on 127.0.0.1 for the scp/rsync baselines: its own host key, client key, config
// and port, all in a temp dir; started as a dedicated `sshd -D` per measurement so that its CPU (with its
// per-connection children, reaped into cutime/cstime) and memory belong to that measurement alone.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { killTree, track } from './child-registry.js';
import { freePort } from '../../scripts/cluster/free-port.js';

export const SSHD = '/usr/sbin/sshd';
/** The cipher every SSH-based baseline uses (the fastest OpenSSH offers here, as ECOSYSTEM.md measured). */
export const SSH_CIPHER = 'aes256-gcm@openssh.com';
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
const START_DEADLINE_MS = 10_000;

/** A running `sshd -D`. */
export interface SshdProcess {
  pid: number;
  port: number;
  /** SIGTERM, then SIGKILL of the tree if it lingers. Idempotent. */
  stop(): Promise<void>;
}

/** Keys and config of a loopback sshd, made once; {@link start} runs a fresh server on a free port. */
export class LoopbackSshd {
  readonly dir: string;
  readonly clientKey: string;
  readonly #config: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.clientKey = join(dir, 'client_key');
    this.#config = join(dir, 'sshd_config');
  }

  /** Generates a host key and a client key under `dir` (created) and writes a minimal sshd_config. */
  static create(dir: string): LoopbackSshd {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const sshd = new LoopbackSshd(dir);
    const hostKey = join(dir, 'host_key');
    for (const key of [hostKey, sshd.clientKey]) {
      const made = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ferry-bench', '-f', key]);
      if (made.status !== 0) throw new Error(`ssh-keygen failed: ${made.stderr.toString()}`);
    }
    const authorizedKeys = join(dir, 'authorized_keys');
    writeFileSync(authorizedKeys, readFileSync(`${sshd.clientKey}.pub`), { mode: 0o600 });
    writeFileSync(
      sshd.#config,
      [
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        `AuthorizedKeysFile ${authorizedKeys}`,
        'StrictModes no',
        'UsePAM no',
        `PidFile ${join(dir, 'sshd.pid')}`,
        `Ciphers ${SSH_CIPHER}`,
        'Compression no',
        'UseDNS no',
        'PrintMotd no',
        'MaxStartups 100',
        'LogLevel INFO',
        // Debian's default: scp (which speaks SFTP since OpenSSH 9.0) and sftp run this separate process.
        `Subsystem sftp ${SFTP_SERVER}`,
        '',
      ].join('\n'),
    );
    // sshd refuses to start without its privilege separation directory (normally made by systemd).
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    return sshd;
  }

  /** The ssh(1) options every client uses: this key, no host key checks, the benchmark cipher, no prompts. */
  sshOptions(): string[] {
    return [
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'Compression=no',
      '-F',
      '/dev/null',
      '-i',
      this.clientKey,
      '-c',
      SSH_CIPHER,
    ];
  }

  /** `ssh` as one string, for rsync's `-e` (no spaces in our temp paths, so no quoting needed). */
  rshCommand(port: number): string {
    return ['ssh', ...this.sshOptions(), '-p', String(port)].join(' ');
  }

  /** Starts `sshd -D -e -f CONFIG -p PORT` and resolves once it listens. */
  async start(): Promise<SshdProcess> {
    const port = await freePort();
    const child = track(
      spawn(SSHD, ['-D', '-e', '-f', this.#config, '-p', String(port)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    const pid = child.pid!;
    let log = '';
    const exited = once(child, 'exit');
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const deadline = setTimeout(() => killTree(pid), 5_000);
        try {
          await exited;
        } finally {
          clearTimeout(deadline);
        }
      })();
      return stopping;
    };
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`sshd did not listen within ${START_DEADLINE_MS} ms:\n${log}`)),
          START_DEADLINE_MS,
        );
        createInterface({ input: child.stderr! }).on('line', (line) => {
          log += `${line}\n`;
          if (/Server listening on/.test(line)) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`sshd exited before listening:\n${log}`));
        });
      });
    } catch (err) {
      await stop();
      throw err;
    }
    return { pid, port, stop };
  }
}
