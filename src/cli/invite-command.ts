import type { Command } from 'commander';
import { ferryCommand } from './ferry-command.js';
import { FerryError, isFerryError } from '../errors/index.js';
import { isInviteId } from '../crypto/index.js';
import {
  createInvite,
  listInvites,
  loadIdentity,
  readServeAddress,
  revokeInvite,
  MAX_INVITE_TTL_MS,
} from '../home/index.js';
import { homeOf } from './cli-context.js';
import { parsePermissions } from './key-commands.js';
import { parseTarget } from './parse-target.js';
import { parseMs } from './parse-option.js';
import { formatDuration } from './progress-format.js';
import { COORDINATION_HELP, clusterInvites } from './coordination-flags.js';
import { jsonLine } from './json-line.js';
import { writeNote } from './note-lines.js';

/** The address the printed client command names when neither `--address` nor a served address is known. */
const DEFAULT_SERVE_ADDRESS = '127.0.0.1:7443';

interface InviteFlags {
  name?: string;
  ttl: string;
  permissions: string;
  address?: string;
  json?: boolean;
  revoke?: string;
  coordination?: string;
}

/**
 * `ferry invite` (create a one-time pairing code, or `--revoke ID`) and `ferry invites` (list them): the
 * server side of PROTOCOL.md §12. A running `ferry serve` on the same home reads the invite store at
 * pairing time, so neither needs a restart.
 */
export function registerInviteCommands(program: Command): void {
  program
    .command('invite')
    .description('create a one-time pairing code for a new client (`ferry pair` on the client)')
    .option('--name <name>', 'label of the client; becomes its allow-list name')
    .option('--ttl <duration>', 'how long the code is valid: 30s, 10m, 2h, 7d at most', '10m')
    .option('--permissions <list>', 'upload, download or upload,download', 'upload,download')
    .option(
      '--address <host:port>',
      `the address clients reach this server at, for the printed command (default: where \`ferry serve\` on this home listens, else ${DEFAULT_SERVE_ADDRESS})`,
    )
    .option('--json', 'print {"v", "code", "expires", "id"} as one JSON line')
    .option('--revoke <id>', 'remove an open invite (its id: the first 5 characters of the code)')
    .option('--coordination <etcd://host:port/prefix>', COORDINATION_HELP)
    .addHelpText(
      'after',
      '\nThe code is shown once and works once. Until it is used or expires, the invite store\n' +
        "(invites.json in the home, or the cluster's etcd) is as sensitive as the private key.\n" +
        'With --coordination the invite is kept in etcd: any server of the cluster redeems it, once.\n',
    )
    .action(async (flags: InviteFlags, command: Command) => {
      const home = homeOf(command);
      if (flags.revoke !== undefined) {
        await revoke(home, flags, command);
        return;
      }
      // The flags first: a mistyped --ttl said its usage error after a note about the home.
      const options = {
        ttlMs: parseDuration(flags.ttl),
        permissions: parsePermissions(flags.permissions),
        ...(flags.name === undefined ? {} : { name: flags.name }),
      };
      // An invite is only useful to a server: refuse a home without an identity (likely the wrong --home).
      // A cluster's invite lives in etcd, and may be made from any machine that reaches it.
      if (flags.coordination === undefined)
        await loadIdentity(home).catch((err: unknown) => {
          // "run ferry keygen first" would make a second identity in the wrong home: name the right one.
          if (!isFerryError(err, 'KEY_NOT_FOUND')) throw err;
          throw new FerryError(
            'KEY_NOT_FOUND',
            'invite makes a code for the server of this home, which holds its identity',
            {
              subject: home,
              cause: err,
              hint: "pass the server's home (`ferry --home DIR invite`; npm start's is ./.ferry-home)",
            },
          );
        });
      // Where the server on this home really listens (it notes it at start), unless told otherwise.
      const served = flags.coordination === undefined ? await readServeAddress(home) : undefined;
      const address = flags.address ?? served ?? DEFAULT_SERVE_ADDRESS;
      // A server redeems only the invites of its own home: one made in a home no server ever ran on (the
      // client's default home, say, while `npm start` serves ./.ferry-home) fails at pairing as "wrong
      // code", far from the cause. It may still be meant for a server not started yet: warn, never refuse.
      if (flags.coordination === undefined && served === undefined)
        writeNote(
          `ferry: note: no \`ferry serve\` has run on the home ${home}; a server started on another home will ` +
            'not know this code: make the invite there with `ferry --home SERVER_HOME invite`',
        );
      const target = parseTarget(address);
      if (target.remotePath !== '')
        throw new FerryError('USAGE_INVALID', `--address takes HOST:PORT, got ${JSON.stringify(address)}`);
      const invite =
        flags.coordination === undefined
          ? await createInvite(home, options)
          : await (await clusterInvites(flags.coordination)).create(options);
      if (flags.json) {
        process.stdout.write(jsonLine({ code: invite.code, expires: invite.expiresAt, id: invite.id }));
        return;
      }
      // Pasted as printed, the line must run: `./bin/ferry` in a checkout with no ferry installed.
      const ferry = ferryCommand(process.argv[1], process.cwd(), process.env.PATH);
      process.stdout.write(
        [
          `pairing code: ${invite.code}`,
          `expires:      ${whenItExpires(invite.expiresAt, Date.now())} (one use)`,
          '',
          `On the client (after \`${ferry} keygen\`, once, if it has no identity yet):`,
          `  ${ferry} pair ${target.address} ${invite.code}`,
          `(or \`${ferry} pair ${target.address}\` and type the code when asked:`,
          'a code on a command line is visible to other users of that machine',
          'until it is used)',
          '',
        ].join('\n'),
      );
    });

  program
    .command('invites')
    .description('list the open pairing invites (never their codes)')
    .option('--json', 'one JSON line per invite')
    .option('--coordination <etcd://host:port/prefix>', COORDINATION_HELP)
    .action(async (flags: { json?: boolean; coordination?: string }, command: Command) => {
      const invites =
        flags.coordination === undefined
          ? await listInvites(homeOf(command))
          : await (await clusterInvites(flags.coordination)).list();
      if (flags.json) {
        for (const invite of invites) process.stdout.write(jsonLine(invite));
        return;
      }
      // As `ferry clients` does: silence would read as "none", when the likelier cause is the wrong home.
      if (invites.length === 0)
        writeNote(
          flags.coordination === undefined
            ? `no open invite in the home ${homeOf(command)} (\`ferry invite\` there makes one; a server started with another --home has its own)`
            : 'no open invite in this cluster',
        );
      for (const invite of invites) {
        process.stdout.write(
          `${invite.id}  expires ${invite.expiresAt}  ${invite.permissions.join(',')}${invite.name ? `  ${invite.name}` : ''}\n`,
        );
      }
    });
}

async function revoke(home: string, flags: InviteFlags, command: Command): Promise<void> {
  const given = ['name', 'ttl', 'permissions', 'address'].filter(
    (flag) => command.getOptionValueSource(flag) === 'cli',
  );
  if (given.length > 0)
    throw new FerryError('USAGE_INVALID', `--revoke cannot be combined with --${given.join(', --')}`);
  const id = (flags.revoke ?? '').trim().toLowerCase();
  if (!isInviteId(id))
    throw new FerryError('USAGE_INVALID', 'an invite id is the first 5 characters of its code (a-z, 2-7)');
  const revoked =
    flags.coordination === undefined
      ? await revokeInvite(home, id)
      : await (await clusterInvites(flags.coordination)).revoke(id);
  if (!revoked) throw new FerryError('USAGE_INVALID', `no open invite ${id}`);
  if (flags.json) process.stdout.write(jsonLine({ revoked: id }));
  else process.stderr.write(`revoked invite ${id}\n`);
}

/** Parses `--ttl` (`30s`, `10m`, `2h`, `7d`; a unit is required: `10` is ambiguous) into milliseconds. */
export function parseDuration(text: string): number {
  const ms = parseMs(text, '--ttl', { unitRequired: true });
  if (ms <= 0 || ms > MAX_INVITE_TTL_MS)
    throw new FerryError('USAGE_INVALID', `--ttl must be more than 0 and at most 7d, got ${text}`);
  return ms;
}

/**
 * `in 10m00s, at 2026-12-06 05:29:48 UTC`: how long the code works, then when. The bare ISO time
 * (`2026-12-06T05:29:48.589Z`) left the reader to work out from the UTC offset whether the code still works.
 */
function whenItExpires(expiresAt: string, nowMs: number): string {
  const at = new Date(expiresAt);
  const utc = `${at.toISOString().slice(0, 10)} ${at.toISOString().slice(11, 19)} UTC`;
  return `in ${formatDuration(Math.max(0, at.getTime() - nowMs))}, at ${utc}`;
}
