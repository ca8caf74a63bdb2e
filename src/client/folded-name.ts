/**
 * A name as a case- and normalization-insensitive file system may take it (vfat and exFAT media, CIFS, ext4
 * `casefold` directories, macOS's default, which also takes either Unicode normalization of a name), made
 * wider than any one does: NFKC (a name in NFD is the same name to macOS), then upper and lower case (`ſ` and
 * `K`, the Kelvin sign, fold to `s` and `k`). For comparing a server's names with the local entries a
 * download must not reach (excluded ones, ferry's home): on such a destination `SECRETS/key.txt` is opened as
 * `secrets/key.txt`. Wider is safe: what it joins in vain is a server's entry left out that a case-sensitive
 * destination would have kept beside the protected one, and said so.
 */
export function foldedName(name: string): string {
  // Printable ASCII is its own NFKC, and its upper case's lower case is its lower case: 4x faster, the
  // common name (a sync into a destination holding the home folds two names of every entry).
  return PRINTABLE_ASCII.test(name) ? name.toLowerCase() : name.normalize('NFKC').toUpperCase().toLowerCase();
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
