// What a `get` fetches: the remote paths named, listed when -r, turned into the files, directories and links
// to make under the local directory (a `GetPlan`), with every name from the server validated first.
import { join } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';
import { parseRemotePath } from '../protocol/index.js';
import { manifestLookup, resolveLinkTarget, type TreeNode } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import type { GetPlan } from './download-plan.js';
import type { GetFilesOptions } from './get-files.js';
import { failsOnlyThisJob } from './job-failure.js';
import { listRemote } from './list-remote.js';
import { aboutRemotePath, remoteName } from './remote-name.js';
import type { ServerAddress } from './server-address.js';
import type { TransferEvent } from './transfer-events.js';
import type { ExcludePatterns } from './sync-exclude.js';
import { leaveOutAliases } from './excluded-aliases.js';
import { excludedOnTheWay } from './excluded-on-the-way.js';
import {
  NAMED_AS_A_TEMPORARY,
  isTemporaryName,
  leaveOutTemporaryNames,
} from './leave-out-temporary-names.js';

/**
 * The plan of `getFiles`: each remote path a file (without -r) or the whole tree under it (NAMES_ONLY
 * listing, PROTOCOL.md §5.12), links kept only when they resolve inside the tree; sizes of files named
 * without -r asked for together. `localDir` is the destination's real path (`getPlanned`'s).
 */
export async function planDownloads(
  session: ClientSession,
  options: GetFilesOptions & { excluded: ExcludePatterns },
  emit: (event: TransferEvent) => void,
): Promise<GetPlan> {
  const plan: GetPlan = { files: [], dirs: [], links: [] };
  for (const remotePath of options.remotePaths) {
    const requested = remotePath === '' ? [] : parseRemotePath(remotePath);
    const name = options.localName ?? requested[requested.length - 1];
    if (!options.recursive) {
      if (!name) throw new FerryError('USAGE_INVALID', 'name a file to get, or use -r for the root');
      plan.files.push({ remotePath, local: [name], ...namedAsATemporary(options.server, remotePath, name) });
      continue;
    }
    // NAMES_ONLY (PROTOCOL.md §5.12): the plan takes files' sizes alone, each download brings its file's mode
    // and mtime in GET_OFFER; directories and links keep theirs in the listing.
    const listing = await listRemote(session, remotePath, { recursive: true, namesOnly: true }).catch(
      (err: unknown) => {
        const error = aboutRemotePath(err, options.server, remotePath);
        // A source refused on its own (missing, not permitted) fails alone, in its turn, like a file does.
        if (name && failsOnlyThisJob(error, session)) return error;
        throw error;
      },
    );
    if (listing instanceof FerryError) {
      plan.files.push({ remotePath, local: [name!], size: 0, refused: listing });
      continue;
    }
    const { isFile, mode, mtimeMs } = listing;
    // The patterns are ours, matched against the listing's paths below the tree's top: an excluded entry,
    // and all below an excluded directory, is as if the server had not listed it.
    const listedEntries = options.excluded.filter(listing.entries);
    if (isFile) {
      // PROTOCOL.md §5.12: the listing of a file is that one file.
      plan.files.push({
        remotePath,
        local: [name!],
        size: listing.entries[0]?.size ?? 0,
        ...namedAsATemporary(options.server, remotePath, name!),
      });
      continue;
    }
    const base = name ? [name] : [];
    // And what names one of DST's excluded entries in other letters: on a case-insensitive DST it is that
    // entry (excluded-aliases.ts, the policy of a sync down too). Names not yet validated are only compared.
    const excludedThere = await excludedOnTheWay(
      join(options.localDir, ...base),
      options.excluded,
      listedEntries,
    );
    const skip = (path: string, reason: string): void =>
      emit({ type: 'entry-skipped', path: [...base, path].join('/'), reason });
    const entries = leaveOutAliases(excludedThere, leaveOutTemporaryNames(listedEntries, skip), skip);
    if (name) plan.dirs.push({ local: base, mode, mtimeMs });
    // The whole listing as the tree will be, so a link is resolved through every other link in it.
    const nodes = new Map<string, TreeNode>();
    const links: GetPlan['links'] = [];
    for (const entry of entries) {
      // PROTOCOL.md §5.12: names from the server are validated before anything is created, as the remote
      // path they name (§7.1), so `.ferry` is refused only where it is reserved: first in that path.
      const remote = remotePath === '' ? entry.path : `${remotePath}/${entry.path}`;
      const relative = parseRemotePath(remote).slice(requested.length);
      const local = [...base, ...relative];
      nodes.set(
        local.join('/'),
        entry.kind === 'link' ? { kind: 'link', target: entry.linkTarget } : { kind: entry.kind },
      );
      if (entry.kind === 'file') plan.files.push({ remotePath: remote, local, size: entry.size });
      else if (entry.kind === 'dir') plan.dirs.push({ local, mode: entry.mode, mtimeMs: entry.mtimeMs });
      else links.push({ local, target: entry.linkTarget, mtimeMs: entry.mtimeMs, rootDepth: base.length });
    }
    if (name) nodes.set(name, { kind: 'dir' });
    const lookup = manifestLookup(nodes);
    for (const link of links) {
      if (resolveLinkTarget(lookup, link.local, link.target, link.rootDepth).verdict === 'inside')
        plan.links.push(link);
      else skipLink(emit, link.local);
    }
  }
  // Files named without -r were not listed: their sizes are asked for together (pipelined, §5.8).
  await Promise.all(
    plan.files
      .filter((job) => job.size === undefined)
      .map(async (job) => {
        const listed = await listedSize(session, job.remotePath);
        job.size = listed.size;
        if (listed.directory) job.listedAsDirectory = true;
      }),
  );
  return plan;
}

/**
 * A file the user named whose local name is one of the client temporaries' (`.big.ferry-part`): it fails in
 * its turn, as a refused listing does. Received, it and the temporary of a file of its directory would each
 * take the other's place (`leaveOutTemporaryNames`): `get host/.big.ferry-part host/big DIR` said both
 * received and left `big` alone.
 */
function namedAsATemporary(
  server: ServerAddress,
  remotePath: string,
  name: string,
): { size?: number; refused?: FerryError } {
  if (!isTemporaryName(name)) return {};
  const refused = new FerryError('PATH_INVALID', NAMED_AS_A_TEMPORARY, {
    subject: remoteName(server, remotePath),
    hint: `get it alone under another local name: \`ferry get ${remoteName(server, remotePath)} NEW_NAME\``,
  });
  return { size: 0, refused };
}

/** A directory named in a get without -r: the user forgot -r, as `send` says of a local one. */
export function directoryNeedsRecursive(
  server: ServerAddress,
  remotePath: string,
  cause?: FerryError,
): FerryError {
  return new FerryError('USAGE_INVALID', 'is a directory on the server', {
    cause,
    subject: remoteName(server, remotePath),
    hint: 'add -r to get it as a tree',
  });
}

/**
 * The size of a remote file for the `planned` event. A refusal that concerns this file alone counts 0, as an
 * unreadable file does for `send`: its failure is reported when its turn comes.
 */
async function listedSize(
  session: ClientSession,
  remotePath: string,
): Promise<{ size: number; directory: boolean }> {
  try {
    const { entries, isFile } = await listRemote(session, remotePath, { recursive: false, namesOnly: true });
    return isFile ? { size: entries[0]?.size ?? 0, directory: false } : { size: 0, directory: true };
  } catch (err) {
    const error = toFerryError(err);
    if (failsOnlyThisJob(error, session)) return { size: 0, directory: false };
    throw error;
  }
}

/** Reports a link that is not made: it would point outside the tree. */
export function skipLink(emit: (event: TransferEvent) => void, local: readonly string[]): void {
  emit({ type: 'entry-skipped', path: local.join('/'), reason: 'symbolic link points outside the tree' });
}
