import picocolors from 'picocolors';

/** picocolors' colour functions (its types do not export the interface under a usable name). */
export type Colors = ReturnType<typeof picocolors.createColors>;

/** Colours only on a terminal and never with `NO_COLOR` set (https://no-color.org). */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Colors {
  const noColor = env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '';
  return picocolors.createColors(stream.isTTY === true && !noColor && env['TERM'] !== 'dumb');
}
