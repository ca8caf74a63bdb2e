import { familiarFlagHint } from './familiar-flag-hint.js';

/**
 * Commander's complaint (`error: missing required argument 'sources'`, maybe followed by a line
 * `(Did you mean send?)`) as ferry's one error line, `ferry: USAGE_INVALID: ...`, ending with where the usage
 * is: the complaint alone named an argument (`'sources'`) the user never typed, and no way to find its form.
 * Anything else commander writes to stderr (a help text shown for a command that needs a subcommand) passes.
 */
export function usageErrorLine(text: string, helpCommand: string, usage?: string): string {
  if (!text.startsWith('error: ')) return text;
  const said = text
    .slice('error: '.length)
    .trim()
    .split('\n')
    .map((line) => line.trim().replace(/^\(Did you mean/, '(did you mean'))
    .join(' ')
    .replace(/\.$/, '');
  const unknown = /^unknown option '([^']+)'/.exec(said);
  const command = /^ferry (\S+) --help$/.exec(helpCommand)?.[1];
  const hint = unknown && command ? familiarFlagHint(command, unknown[1]!) : undefined;
  // The hint says what ferry does instead; commander's spelling guess beside it (`--include`: "did you mean
  // --exclude?") would point at the opposite.
  // `ferry get` alone: the arguments as the usage writes them (`HOST[:PORT]/REMOTE_PATH... [LOCAL]`) say
  // what to type; `missing required argument 'sources'` named one the user never saw.
  const missing = usage !== undefined && /^missing required argument '/.test(said);
  const complaint = missing
    ? `missing arguments: ${usage}`
    : hint
      ? said.replace(/ \(did you mean [^)]*\)$/, '')
      : said;
  return `ferry: USAGE_INVALID: ${complaint}${hint ? ` (${hint})` : ''}; see \`${helpCommand}\`\n`;
}
