import { FerryError } from '../errors/index.js';

/** A source as the user typed it, and the name it gets inside a destination directory. */
export interface NamedSource {
  readonly shown: string;
  readonly name: string;
}

/**
 * Refuses, before connecting, two sources that would land under one name in the destination directory
 * (`send d1/x d2/x HOST/dir/`, `get HOST/a/x HOST/b/x .`): once the first is placed the second is refused
 * as an existing file, which names a destination the user never had, and with `--overwrite` it silently
 * replaces the first, as scp does. A source with no name of its own (the server root) is not compared.
 */
export function checkDistinctNames(sources: readonly NamedSource[]): void {
  const seen = new Map<string, string>();
  for (const { shown, name } of sources) {
    if (name === '') continue;
    const first = seen.get(name);
    if (first !== undefined)
      throw new FerryError(
        'USAGE_INVALID',
        `${first} and ${shown} would both be stored as ${name} in the destination: transfer them in separate runs or to separate directories`,
      );
    seen.set(name, shown);
  }
}
