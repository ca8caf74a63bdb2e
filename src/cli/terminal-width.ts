/** The width assumed of a terminal that does not say its own. */
export const DEFAULT_COLUMNS = 80;

/** A stream the CLI writes lines to: a terminal says so (`isTTY`) and its width (`columns`). */
export interface LineStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** The widest a line may be on the terminal of `stream`: one column short of its width, so no terminal wraps it early. */
export function lineWidth(stream: LineStream): number {
  const columns = stream.columns;
  return Math.max(20, (typeof columns === 'number' && columns > 0 ? columns : DEFAULT_COLUMNS) - 1);
}

/**
 * {@link lineWidth} when `stream` is a terminal; undefined for a file or a pipe, where a line stays whole
 * (a script or a log reads one line per error or note).
 */
export function terminalLineWidth(stream: LineStream): number | undefined {
  return stream.isTTY === true ? lineWidth(stream) : undefined;
}
