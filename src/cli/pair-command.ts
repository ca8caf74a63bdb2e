import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { FerryError, isFerryError } from '../errors/index.js';
import { parsePairingCode, type PairingCode } from '../crypto/index.js';
import { loadIdentity, permissionNames } from '../home/index.js';
import {
  CONNECT_TIMEOUT_MS,
  HANDSHAKE_TIMEOUT_MS,
  PAIRING_TIMEOUT_MS,
  pairWithServer,
  pairingPins,
} from '../index.js';
import { homeOf } from './cli-context.js';
import { withInterrupt } from './client-options.js';
import { parseTarget } from './parse-target.js';
import { formatMs, parseMs } from './parse-option.js';
import { writeNote } from './note-lines.js';

interface PairFlags {
  codeFile?: string;
  connectTimeout: string;
  handshakeTimeout: string;
  timeout: string;
}

/** `ferry pair HOST[:PORT] [CODE] [--code-file FILE]`: the client side of PROTOCOL.md §12. */
export function registerPairCommand(program: Command): void {
  program
    .command('pair')
    .usage('[options] HOST[:PORT] [CODE]')
    .description("pair with a server using a one-time code from its `ferry invite`; pins the server's key")
    .argument('<address>', 'HOST[:PORT] of the server')
    .argument(
      '[code]',
      'the pairing code; WARNING: a command line is visible to other local users (ps), prefer the prompt or --code-file',
    )
    .option('--code-file <file>', 'read the code from this file (- for standard input)')
    .option(
      '--connect-timeout <duration>',
      'TCP connect deadline (500ms, 30s; a bare number is ms)',
      formatMs(CONNECT_TIMEOUT_MS),
    )
    .option('--handshake-timeout <duration>', 'handshake deadline', formatMs(HANDSHAKE_TIMEOUT_MS))
    .option('--timeout <duration>', 'pairing deadline after the handshake', formatMs(PAIRING_TIMEOUT_MS))
    .addHelpText(
      'after',
      '\nWithout CODE or --code-file, the code is asked for on the terminal. A code is good for one\n' +
        'attempt: a wrong one voids it, and the server operator has to make a new one.\n',
    )
    .action(async (address: string, codeArg: string | undefined, flags: PairFlags, command: Command) => {
      const home = homeOf(command);
      const target = parseTarget(address);
      if (target.remotePath !== '')
        throw new FerryError('USAGE_INVALID', `pair takes HOST[:PORT], got ${JSON.stringify(address)}`);
      const identity = await loadIdentity(home);
      // Parsed before connecting (PROTOCOL.md §12.6 step 1): a typo never reaches the server.
      const code = await readCode(codeArg, flags.codeFile);
      try {
        const outcome = await withInterrupt((signal) =>
          pairWithServer({
            server: { host: target.host, port: target.port },
            identity,
            code,
            // §12.6 steps 2 and 5: an unknown server is fine, a different pin is not; pinned once paired.
            ...pairingPins(home, target.address),
            connectTimeoutMs: parseMs(flags.connectTimeout, '--connect-timeout'),
            handshakeTimeoutMs: parseMs(flags.handshakeTimeout, '--handshake-timeout'),
            timeoutMs: parseMs(flags.timeout, '--timeout'),
            signal,
          }),
        ).catch((err: unknown) => {
          // The wire says only "wrong, expired or used" (§12.5, on purpose): the next step is the same for
          // all three, and a typed code that fails has voided its invite too.
          if (!isFerryError(err, 'PAIRING_FAILED')) throw err;
          throw err
            .about(target.address)
            .withHint(
              "ask the server's operator for a new code (`ferry invite` on the server's home); a wrong code also voids the invite it was meant for",
            );
        });
        process.stdout.write(`${outcome.serverId}\n`);
        writeNote(
          `paired with ${target.address}: its key is pinned, and it allowed this client` +
            `${outcome.permissions === undefined ? '' : ` (${describePermissions(outcome.permissions)})`}`,
        );
      } finally {
        code.dispose();
      }
    });
}

/** The code from exactly one place: `--code-file`, the argument, or a terminal prompt. */
async function readCode(codeArg: string | undefined, codeFile: string | undefined): Promise<PairingCode> {
  if (codeArg !== undefined && codeFile !== undefined)
    throw new FerryError(
      'USAGE_INVALID',
      'give the code either as an argument or with --code-file, not both',
    );
  if (codeFile !== undefined) {
    const text = codeFile === '-' ? await readStdin() : await readFile(codeFile, 'utf8');
    return parsePairingCode(text);
  }
  if (codeArg !== undefined) return parsePairingCode(codeArg);
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new FerryError(
      'USAGE_INVALID',
      'no pairing code: pass --code-file FILE (or - for stdin), or run on a terminal to be asked for it',
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return parsePairingCode(await rl.question('pairing code: '));
  } finally {
    rl.close();
  }
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of process.stdin) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

function describePermissions(bits: number): string {
  const names = permissionNames(bits);
  return names.length > 0 ? names.join(',') : 'no permissions';
}
