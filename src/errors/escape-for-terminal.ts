/**
 * What may not reach a terminal raw (SECURITY.md, "Terminal output"): C0 controls, DEL and C1 controls
 * (`\p{Cc}`; ESC starts escape sequences, and many terminals act on C1 CSI U+009B too), Unicode format
 * characters (`\p{Cf}`: the bidi embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069, the
 * marks U+200E, U+200F and U+061C, zero-width spaces, soft hyphens, tag characters), the line and paragraph
 * separators U+2028 and U+2029, and lone surrogates. Zero-width non-joiner and joiner (U+200C, U+200D) stay:
 * scripts such as Persian and every multi-person emoji need them, and they move nothing on the screen.
 */
const UNSAFE_CHARACTER = /(?![\u200C\u200D])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

const UNSAFE_OR_BACKSLASH = new RegExp(`\\\\|${UNSAFE_CHARACTER.source}`, 'gu');

/**
 * In JSON text, C0 controls (escaped by `JSON.stringify`) and the whitespace between tokens are left alone;
 * everything else unsafe can only stand inside a string, where a `\uXXXX` escape means the same character.
 */
const UNSAFE_IN_JSON = new RegExp(`(?![\\u0000-\\u001F])${UNSAFE_CHARACTER.source}`, 'gu');

/**
 * Makes a string that came from the other side (a name, a link target, an error detail) safe to print on a
 * terminal, the way `ls -b` and OpenSSH's `vis` do: every unsafe character becomes a visible escape (`\x1B`,
 * `\x9B`, `\u202E`, `\u{E0041}`) and `\` becomes `\\`, so distinct strings always print distinctly. Every
 * human-readable line the CLI writes passes what it did not write itself through here.
 */
export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE_OR_BACKSLASH, (character) => {
    if (character === '\\') return '\\\\';
    const point = character.codePointAt(0)!;
    if (point <= 0xff) return `\\x${hex(point, 2)}`;
    if (point <= 0xffff) return `\\u${hex(point, 4)}`;
    return `\\u{${hex(point, 5)}}`;
  });
}

/**
 * `JSON.stringify(value)` with every unsafe character inside a string written as a JSON `\uXXXX` escape:
 * `JSON.parse` gives back exactly the same strings (`--json` keeps names exact), while the bytes that reach
 * a terminal or a log viewer hold no control character.
 */
export function jsonForTerminal(value: unknown): string {
  return escapeJsonText(JSON.stringify(value));
}

/** {@link jsonForTerminal} for JSON text already serialised (pino's log lines). */
export function escapeJsonText(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (character) => {
    let out = '';
    for (let i = 0; i < character.length; i++) out += `\\u${hex(character.charCodeAt(i), 4).toLowerCase()}`;
    return out;
  });
}

/** A copy of `event` with each of its own string fields passed through {@link escapeForTerminal}. */
export function escapeStringFields<T extends object>(event: T): T {
  const out = { ...event } as Record<string, unknown>;
  for (const [key, value] of Object.entries(out))
    if (typeof value === 'string') out[key] = escapeForTerminal(value);
  return out as T;
}

function hex(value: number, digits: number): string {
  return value.toString(16).toUpperCase().padStart(digits, '0');
}
