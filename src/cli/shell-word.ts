/** `text` as one shell word: as is when it needs no quoting, else in single quotes (a home with spaces). */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_.,:@%+=/-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
