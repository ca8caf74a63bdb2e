import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../protocol/index.js';

/** What an allowed client may do, as the allow-list and invites store it. */
export type Permission = 'upload' | 'download';

/** Every permission, in the order they are listed and shown. */
export const PERMISSIONS: readonly Permission[] = ['upload', 'download'];

// The one mapping between the names kept in home files and the bits of WELCOME (PROTOCOL.md §5.2).
const BITS: Readonly<Record<Permission, number>> = {
  upload: PERMISSION_UPLOAD,
  download: PERMISSION_DOWNLOAD,
};

/** True for `upload` and `download`. */
export function isPermission(value: unknown): value is Permission {
  return value === 'upload' || value === 'download';
}

/** The permission bits a client with these permissions is granted (PROTOCOL.md §5.2). */
export function permissionBits(permissions: readonly Permission[]): number {
  return permissions.reduce((bits, p) => bits | BITS[p], 0);
}

/** The permissions named by `bits`, in PERMISSIONS order; unknown bits are ignored. */
export function permissionNames(bits: number): Permission[] {
  return PERMISSIONS.filter((p) => (bits & BITS[p]) !== 0);
}
