import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { FerryError, isFerryError } from '../errors/index.js';
import { formatFerryId, parseFerryId } from '../crypto/index.js';
import { join } from 'node:path';
import {
  IDENTITY_KEY_FILE,
  IDENTITY_PUB_FILE,
  allowClient,
  createIdentity,
  listAllowedClients,
  loadIdentity,
  isPermission,
  pinServer,
  revokeClient,
  type AllowedClient,
  type Permission,
} from '../home/index.js';
import { homeOf } from './cli-context.js';
import { parseTarget } from './parse-target.js';
import { COORDINATION_HELP, clusterAllowList } from './coordination-flags.js';
import { jsonLine } from './json-line.js';
import { ferryCommand } from './ferry-command.js';
import { writeNote } from './note-lines.js';

/**
 * What `keygen` tells a person: where the key is, and the two ways on from here, each command on a line of
 * its own to paste (`ferry`: this ferry as the shell here runs it, ferry-command.ts). Within 80 columns but
 * for the paths, each alone after its label: the lines ran to 108.
 */
export function keygenNextSteps(home: string, id: string, ferry = 'ferry'): string {
  return [
    `ferry: created an identity in ${home}`,
    // The note under the path: after it, a home of ~/.config/ferry's length ran the line past 80 columns.
    `  private key: ${join(home, IDENTITY_KEY_FILE)}`,
    '               (mode 0600; keep it secret)',
    `  ferry ID:    ${id}`,
    `               (public; also in ${IDENTITY_PUB_FILE})`,
    'Next, to send to a server, either:',
    '  get a pairing code from its operator (`ferry invite` there), then:',
    `    ${ferry} pair HOST:PORT`,
    '  or give the operator this ID (`ferry allow ID` there), then:',
    `    ${ferry} send FILE HOST:PORT --expect SERVER_ID`,
    'Or run a server here, then `ferry invite` for each client:',
    `    ${ferry} serve --root DIR`,
    '',
  ].join('\n');
}

/**
 * `keygen` on a home that has an identity (the README followed twice): the one there is what the user needs,
 * named with its ID; `--force` alone as the way on threw away the key every server had allowed.
 */
async function existingIdentityError(home: string, err: FerryError): Promise<FerryError> {
  const id = await loadIdentity(home).then(
    (keyPair) => formatFerryId(keyPair.publicKey),
    () => undefined,
  );
  if (id === undefined) return err;
  return new FerryError('KEY_EXISTS', `${join(home, IDENTITY_KEY_FILE)}, ferry ID ${id}`, {
    cause: err,
    hint:
      'nothing to do, `ferry id` prints it; --force makes a new one, which every server that allowed this ID ' +
      'must allow again',
  });
}

/** `keygen`, `id`, `allow`, `revoke`, `clients`, `trust`: identities and who trusts whom. */
export function registerKeyCommands(program: Command): void {
  program
    .command('keygen')
    .description("create this machine's long-term identity (private key file mode 0600)")
    .option('--force', 'replace an existing identity (everyone who trusts the old key must re-trust)')
    .action(async (opts: { force?: boolean }, command: Command) => {
      const home = homeOf(command);
      const keyPair = await createIdentity(home, { force: opts.force ?? false }).catch(
        async (err: unknown) => {
          throw isFerryError(err, 'KEY_EXISTS') ? await existingIdentityError(home, err) : err;
        },
      );
      const id = formatFerryId(keyPair.publicKey);
      // The ID alone on stdout (scripts read it); where the key is and what to do next on stderr.
      process.stdout.write(`${id}\n`);
      process.stderr.write(
        keygenNextSteps(home, id, ferryCommand(process.argv[1], process.cwd(), process.env.PATH)),
      );
    });

  program
    .command('id')
    .description("print this machine's ferry ID, alone on one line")
    .action(async (_opts: unknown, command: Command) => {
      const keyPair = await loadIdentity(homeOf(command));
      process.stdout.write(`${formatFerryId(keyPair.publicKey)}\n`);
    });

  program
    .command('allow')
    .description('let a client key use this server')
    .argument('<id>', "the client's ferry ID (from `ferry id` on the client)")
    .usage('[options] ID')
    .option('--name <name>', 'a label for logs and the dashboard')
    .option('--permissions <list>', 'upload, download or upload,download', 'upload,download')
    .option('--root <subdir>', 'confine the client to this subdirectory of the server root')
    .option('--coordination <etcd://host:port/prefix>', COORDINATION_HELP)
    .action(
      async (
        id: string,
        opts: { name?: string; permissions: string; root?: string; coordination?: string },
        command: Command,
      ) => {
        const permissions = parsePermissions(opts.permissions);
        const change = {
          permissions,
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(opts.root !== undefined ? { root: opts.root } : {}),
        };
        let outcome: { client: AllowedClient; added: boolean };
        if (opts.coordination !== undefined) {
          // The cluster's list in etcd, by compare-and-swap: every server sees it through its watch.
          outcome = await (await clusterAllowList(opts.coordination)).allow(id, change);
        } else {
          const home = homeOf(command);
          await requireServerHome(home);
          outcome = await allowClient(home, id, change);
        }
        const { client, added } = outcome;
        process.stderr.write(
          `${added ? 'allowed' : 'updated'} ${client.id} (${client.permissions.join(',')})\n`,
        );
      },
    );

  program
    .command('revoke')
    .description('remove a client key from the allow-list')
    .argument('<id>', "the client's ferry ID")
    .usage('[options] ID')
    .option('--coordination <etcd://host:port/prefix>', COORDINATION_HELP)
    .action(async (id: string, opts: { coordination?: string }, command: Command) => {
      // On a cluster, every server ends the key's live sessions when its watch sees the change.
      const removed =
        opts.coordination !== undefined
          ? await (await clusterAllowList(opts.coordination)).revoke(id)
          : await revokeClient(homeOf(command), id);
      if (!removed) throw new FerryError('USAGE_INVALID', 'that id is not on the allow-list');
      process.stderr.write(`revoked ${formatFerryId(parseFerryId(id))}\n`);
    });

  program
    .command('clients')
    .description('list the allowed client keys')
    .option('--json', 'one JSON line per client')
    .option('--coordination <etcd://host:port/prefix>', COORDINATION_HELP)
    .action(async (opts: { json?: boolean; coordination?: string }, command: Command) => {
      let clients: readonly AllowedClient[];
      if (opts.coordination !== undefined) {
        clients = (await (await clusterAllowList(opts.coordination)).read()).clients;
      } else {
        const home = homeOf(command);
        await requireHome(home);
        clients = await listAllowedClients(home);
      }
      if (opts.json) {
        for (const client of clients) process.stdout.write(jsonLine(client));
        return;
      }
      // Silence would read as "the list is empty" when the likelier cause is the wrong home: a bare
      // `ferry clients` reads the default home, not the one `npm start` or `--home` gave the server.
      if (clients.length === 0)
        writeNote(
          opts.coordination === undefined
            ? `no client is allowed in the home ${homeOf(command)} (a server started with another --home has its own list)`
            : 'no client is allowed in this cluster',
        );
      for (const c of clients) {
        process.stdout.write(
          `${c.id}  ${c.permissions.join(',')}${c.root ? `  root=${c.root}` : ''}${c.name ? `  ${c.name}` : ''}\n`,
        );
      }
    });

  program
    .command('trust')
    .usage('[options] HOST[:PORT] ID')
    .description("pin a server's key for HOST:PORT (replaces an existing pin)")
    .argument('<address>', 'HOST[:PORT] of the server')
    .argument('<id>', "the server's ferry ID (from its `ferry id` or start-up banner)")
    .action(async (address: string, id: string, _opts: unknown, command: Command) => {
      const target = parseTarget(address);
      const canonical = formatFerryId(parseFerryId(id));
      const { previousId } = await pinServer(homeOf(command), { address: target.address, id: canonical });
      const note = previousId && previousId !== canonical ? ` (replaced ${previousId})` : '';
      writeNote(`pinned ${target.address} to ${canonical}${note}`);
    });
}

/** Parses `--permissions upload,download` (either or both). */
export function parsePermissions(text: string): Permission[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of parts) {
    if (!isPermission(p)) throw new FerryError('USAGE_INVALID', `unknown permission ${JSON.stringify(p)}`);
  }
  if (parts.length === 0) throw new FerryError('USAGE_INVALID', 'no permissions given');
  return parts as Permission[];
}

/** Refuses a home that does not exist, naming it: reading one would only print an empty list. */
async function requireHome(home: string): Promise<void> {
  const stats = await stat(home).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!stats?.isDirectory())
    throw new FerryError('HOME_NOT_FOUND', undefined, { subject: home, hint: 'check --home or $FERRY_HOME' });
}

/**
 * `allow` writes the allow-list a server reads, so its home must be a server's: one with an identity. A
 * mistyped --home would otherwise get an allow-list no server ever reads.
 */
async function requireServerHome(home: string): Promise<void> {
  try {
    await loadIdentity(home);
  } catch (err) {
    if (!isFerryError(err, 'KEY_NOT_FOUND')) throw err;
    throw new FerryError(
      'KEY_NOT_FOUND',
      'allow writes the allow-list of a server home, which holds its identity',
      { subject: home, cause: err, hint: 'check --home' },
    );
  }
}
