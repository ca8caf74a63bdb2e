/**
 * Flags rsync and scp users type out of habit, per ferry command, and what ferry does instead. Commander only
 * says `unknown option '-av'`; the hint saves a trip to `--help` for what ferry does anyway or spells
 * otherwise.
 */
/** Progress needs no flag: bars on a terminal, elsewhere a line per file in flight every --progress-every. */
const PROGRESS_HINT =
  'ferry shows progress by itself: bars on a terminal, elsewhere a line every 30 s (--progress-every): leave it out';

const SCP_HINTS: Readonly<Record<string, string>> = {
  '-P': 'the port goes in the address: HOST:PORT/PATH',
  '-C': 'ferry does not compress: leave out -C',
  '-i': "ferry's identity is the one in its home, made by ferry keygen: --home DIR picks another",
  '-o': 'ferry makes its own encrypted connection, no ssh: its options are its own flags (--help)',
  '--progress': PROGRESS_HINT,
  '-l': 'ferry has no bandwidth limit: leave out -l',
};

/** rsync's `-e ssh` / `--rsh`: ferry is its own transport. */
const RSH_HINT = 'ferry makes its own encrypted connection, no ssh: give HOST[:PORT] in the path';

const HINTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  sync: {
    '-a': 'ferry sync always keeps modes, mtimes, links and empty directories, as rsync -a does: leave out -a',
    '--archive':
      'ferry sync always keeps modes, mtimes, links and empty directories, as rsync -a does: leave it out',
    '-P': 'ferry always keeps partial files and shows progress on a terminal: leave out -P',
    '--partial': 'ferry always keeps partial files: leave it out',
    '--progress': PROGRESS_HINT,
    '-e': RSH_HINT,
    '--rsh': RSH_HINT,
    '--mkpath': 'ferry sync makes a missing DST and the directories above it: leave it out',
    '--bwlimit': 'ferry has no bandwidth limit: leave it out',
    '-z': 'ferry does not compress: leave out -z',
    '-r': 'ferry sync always mirrors the whole tree: leave out -r',
    '--recursive': 'ferry sync always mirrors the whole tree: leave it out',
    '--include':
      'ferry sync has --exclude but no include rules: exclude what to leave out, or sync a narrower directory',
    '--delete-excluded': 'ferry sync never removes what --exclude matches in DST: remove it there yourself',
  },
  send: SCP_HINTS,
  get: SCP_HINTS,
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
