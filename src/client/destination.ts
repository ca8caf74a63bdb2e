import { FerryError } from '../errors/index.js';

/** What is at a destination path right now. */
export type PathKind = 'missing' | 'file' | 'dir';

/**
 * Where the sources of a send or a get land: inside an existing directory under their own names, or (one
 * source only) under the destination's own name.
 */
export type Destination = { kind: 'into'; dir: string } | { kind: 'as'; path: string };

/** A destination as the user wrote it. */
export interface DestinationRequest {
  /** The destination path without its trailing `/`. */
  path: string;
  /** The user wrote a trailing `/`: the destination must be a directory. */
  directory: boolean;
  /** How many sources go there; more than one needs an existing directory. */
  sources: number;
  /** `--mkdir`: create missing directories instead of refusing them. */
  mkdir: boolean;
}

/** How one side (the server, or this machine) answers questions about its paths. */
export interface DestinationSide {
  /** What is at `path`. */
  kindOf(path: string): Promise<PathKind>;
  /** The directory holding `path`, or undefined when `path` is the top (the client's root, `/`). */
  parentOf(path: string): string | undefined;
  /** `path` as the user should see it in an error (`HOST:PORT/dir` for the server). */
  show(path: string): string;
  /** Which side this is, for error texts: `on the server` or `on this machine`. */
  readonly where: string;
}

/**
 * The one placement rule of `send` and `get`, the rule of `scp`: an existing directory receives the sources
 * inside it; otherwise one source is stored under the destination's name. Several sources, or a trailing
 * `/`, need a directory. A missing directory (the destination's parent, or the destination itself when a
 * directory is needed) is an error naming it unless `mkdir` is set, so a typo never creates folders.
 */
export async function resolveDestination(
  request: DestinationRequest,
  side: DestinationSide,
): Promise<Destination> {
  const kind = await side.kindOf(request.path);
  if (kind === 'dir') return { kind: 'into', dir: request.path };
  const needsDir = request.directory || request.sources > 1;
  if (needsDir) {
    if (kind === 'file') {
      const why = request.sources > 1 ? `${request.sources} sources need a directory` : 'it ends in /';
      throw new FerryError(
        'USAGE_INVALID',
        `${side.show(request.path)} is a file ${side.where}, not a directory (${why})`,
      );
    }
    if (!request.mkdir) throw missingDirectory(request.path, side);
    return { kind: 'into', dir: request.path };
  }
  if (kind === 'file') return { kind: 'as', path: request.path };
  const parent = side.parentOf(request.path);
  if (parent !== undefined && !request.mkdir) {
    const parentKind = await side.kindOf(parent);
    if (parentKind === 'missing') throw missingDirectory(parent, side);
    if (parentKind === 'file')
      throw new FerryError('USAGE_INVALID', `${side.show(parent)} is a file ${side.where}, not a directory`);
  }
  return { kind: 'as', path: request.path };
}

function missingDirectory(path: string, side: DestinationSide): FerryError {
  return new FerryError('PATH_NOT_FOUND', `no such directory ${side.where}`, {
    subject: side.show(path),
    hint: 'add --mkdir to create it',
  });
}
