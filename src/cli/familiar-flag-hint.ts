/**
 * Flags rsync and scp users type out of habit, per ferry command, and what ferry does instead. Commander only
 * says `unknown option '-av'`; the hint saves a trip to `--help` for what ferry does anyway or spells
 * otherwise.
 */
/** Progress needs no flag: bars on a terminal, elsewhere a line per file in flight every --progress-every. */
const PROGRESS_HINT =
  'ferry shows progress by itself: bars on a terminal, elsewhere a line every 30 s (--progress-every): leave it out';

/** rsync's `-e ssh` / `--rsh`: ferry is its own transport. */
const RSH_HINT = 'ferry makes its own encrypted connection, no ssh: give HOST[:PORT] in the path';
const PARTIAL_HINT = 'ferry always keeps partial files: leave it out';
/** rsync's `--append`: resuming is what every rerun does. */
const APPEND_HINT = 'ferry resumes a partial file by itself, after checking what is held: leave it out';
const NO_COMPRESSION = 'ferry does not compress';
const NO_BANDWIDTH_LIMIT = 'ferry has no bandwidth limit';

/** send and get: scp's flags, and rsync's when its users reach for send or get. */
function copyHints(mirror: string, mkdir: string): Readonly<Record<string, string>> {
  const archive = `-r copies a tree; to mirror one with modes, mtimes and links, as rsync -a does: ${mirror}`;
  // scp -p and rsync -p/-t: kept without asking. Not mkdir -p either, so those who meant it are pointed on.
  const kept = (flag: string): string =>
    `ferry always keeps modes and mtimes, as scp -p does: leave out ${flag}; ${mkdir}`;
  return {
    '-p': kept('-p'),
    '--perms': kept('--perms'),
    '-t': kept('-t'),
    '--times': kept('--times'),
    // scp's -P is the port, rsync's is --partial --progress: both answered.
    '-P': 'the port goes in the address: HOST:PORT/PATH; partial files are always kept and progress shown (rsync -P): leave it out',
    '--partial': PARTIAL_HINT,
    '--append': APPEND_HINT,
    '--append-verify': APPEND_HINT,
    '-C': `${NO_COMPRESSION}: leave out -C`,
    '-z': `${NO_COMPRESSION}: leave out -z`,
    '--compress': `${NO_COMPRESSION}: leave it out`,
    '-a': archive,
    '--archive': archive,
    '-c': 'ferry always verifies every file by its digest: leave out -c',
    '--checksum': 'ferry always verifies every file by its digest: leave it out',
    '-n': `only ferry sync has a dry run: ${mirror} -n`,
    '--dry-run': `only ferry sync has a dry run: ${mirror} -n`,
    '--mkpath': mkdir,
    '-i': "ferry's identity is the one in its home, made by ferry keygen: --home DIR picks another",
    '-o': 'ferry makes its own encrypted connection, no ssh: its options are its own flags (--help)',
    '-e': RSH_HINT,
    '--rsh': RSH_HINT,
    '--progress': PROGRESS_HINT,
    '-l': `${NO_BANDWIDTH_LIMIT}: leave out -l`,
    '--bwlimit': `${NO_BANDWIDTH_LIMIT}: leave it out`,
  };
}

/** rsync's parts of -a that ferry sync always does. */
const KEPT_BY_SYNC = 'ferry sync always keeps modes, mtimes, links and empty directories, as rsync -a does';
const DELETE_HINT = 'ferry sync has one --delete: use it';

const HINTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  sync: {
    '-a': `${KEPT_BY_SYNC}: leave out -a`,
    '--archive': `${KEPT_BY_SYNC}: leave it out`,
    '-p': `${KEPT_BY_SYNC}: leave out -p`,
    '--perms': `${KEPT_BY_SYNC}: leave it out`,
    '-t': `${KEPT_BY_SYNC}: leave out -t`,
    '--times': `${KEPT_BY_SYNC}: leave it out`,
    '-l': `${KEPT_BY_SYNC}: leave out -l`,
    '--links': `${KEPT_BY_SYNC}: leave it out`,
    '-o': 'ferry sync keeps no owner or group (the files belong to whoever runs the receiving side): leave out -o',
    '-g': 'ferry sync keeps no owner or group (the files belong to whoever runs the receiving side): leave out -g',
    '-P': 'ferry always keeps partial files and shows progress on a terminal: leave out -P',
    '--partial': PARTIAL_HINT,
    '--partial-dir': 'ferry keeps partial files beside their destination by itself: leave it out',
    '--append': APPEND_HINT,
    '--append-verify': APPEND_HINT,
    '--inplace':
      'ferry sync writes a changed file beside the old one and renames it over, never in place: leave it out',
    '--progress': PROGRESS_HINT,
    '-i': '-v prints a line for every file',
    '--itemize-changes': '-v prints a line for every file',
    '-e': RSH_HINT,
    '--rsh': RSH_HINT,
    '--mkpath': 'ferry sync makes a missing DST and the directories above it: leave it out',
    '--bwlimit': `${NO_BANDWIDTH_LIMIT}: leave it out`,
    '-z': `${NO_COMPRESSION}: leave out -z`,
    '--compress': `${NO_COMPRESSION}: leave it out`,
    '-r': 'ferry sync always mirrors the whole tree: leave out -r',
    '--recursive': 'ferry sync always mirrors the whole tree: leave it out',
    '--include':
      'ferry sync has --exclude but no include rules: exclude what to leave out, or sync a narrower directory',
    '--delete-excluded': 'ferry sync never removes what --exclude matches in DST: remove it there yourself',
    '--del': DELETE_HINT,
    '--delete-before': DELETE_HINT,
    '--delete-during': DELETE_HINT,
    '--delete-delay': DELETE_HINT,
    '--delete-after': DELETE_HINT,
  },
  send: copyHints('ferry sync SRC HOST/DST', '--mkdir creates missing remote directories'),
  get: copyHints('ferry sync HOST/SRC DST', '--mkdir creates missing local directories'),
};

/**
 * The hint for `option` (as commander quotes it: `-av`, `--archive`) given to `command`, if it is a familiar
 * flag ferry does not take; each letter of a bundle of short flags (`-avz`) is looked up.
 */
export function familiarFlagHint(command: string, option: string): string | undefined {
  const hints = HINTS[command];
  if (hints === undefined) return undefined;
  if (option.startsWith('--')) return hints[option.split('=')[0]!];
  for (const letter of option.slice(1)) {
    const hint = hints[`-${letter}`];
    if (hint !== undefined) return hint;
  }
  return undefined;
}
