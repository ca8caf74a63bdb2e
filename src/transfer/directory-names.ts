import { WalkFs } from './walk-fs.js';

/** One name a directory holds: `name` decoded, and whether its bytes were UTF-8 at all. */
export interface DirectoryName {
  /**
   * The name as a string: exact when `utf8`, else with U+FFFD for each byte that is not UTF-8, which names
   * another file (or none), so it is only for saying which entry was left out, never for opening one.
   */
  readonly name: string;
  readonly utf8: boolean;
}

/**
 * The names `dir` holds, read as their bytes. Linux names are bytes; node's string names replace what is not
 * UTF-8 with U+FFFD, so `x\xff` read as a string is `x\uFFFD`, a name that opens another file or none: a walk
 * that used it failed on ENOENT (one such name in a tree failed every `send -r`, `sync` up and `sync` down of
 * it, before a byte was sent), or took the file of its twin named `x\uFFFD` twice (a server's listing named
 * it twice). Such a name can never travel anyway (a wire string is UTF-8, PROTOCOL.md §1), so every walk
 * leaves it out by this flag: a sender says so, a listing and a destination's walk skip it.
 */
export function directoryNames(dir: string): AsyncGenerator<DirectoryName> {
  return new WalkFs().names(dir);
}
