/** `bars`: live bars (a terminal); `lines`: one plain line per finished file (pipes, files); `quiet`. */
export type DisplayMode = 'bars' | 'lines' | 'quiet';

/** Picks the display for a stream: bars only on a real terminal that can draw them. */
export function displayModeOf(
  stream: { isTTY?: boolean },
  options: { quiet?: boolean; env?: NodeJS.ProcessEnv } = {},
): DisplayMode {
  if (options.quiet) return 'quiet';
  const env = options.env ?? process.env;
  return stream.isTTY === true && env['TERM'] !== 'dumb' ? 'bars' : 'lines';
}
