/**
 * The one permission policy for what a receiver creates from a `mode` that came over the wire
 * (PROTOCOL.md §5.3, §5.10, §9.3), applied by the server to uploads and by the client to downloads, like
 * `scp -p` under the usual umask 022: setuid, setgid and sticky bits are dropped, and so is write
 * permission for group and others. A sender can therefore never make the receiver create a file or
 * directory that other local users may change, or a program that runs with the owner's rights.
 */
export const RECEIVED_MODE_LIMIT = 0o755;

/**
 * Directories always keep owner rwx (PROTOCOL.md §5.10): the receiver must be able to write into one it
 * created, and to resume or finish a later transfer under it.
 */
export const RECEIVED_DIRECTORY_MODE_FLOOR = 0o700;

/** The permission bits a received file gets (PROTOCOL.md §5.3, §9.3). */
export function receivedFileMode(wireMode: number): number {
  return wireMode & RECEIVED_MODE_LIMIT;
}

/** The permission bits a received directory gets (PROTOCOL.md §5.10, §5.12). */
export function receivedDirectoryMode(wireMode: number): number {
  return (wireMode & RECEIVED_MODE_LIMIT) | RECEIVED_DIRECTORY_MODE_FLOOR;
}
