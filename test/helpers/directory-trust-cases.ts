import { chmod, chown } from 'node:fs/promises';

/** Another local user (nobody), whom the tests hand directories to; they need root. */
export const OTHER_UID = 65534;

/** One owner and mode of a directory that guards a home or a server's root, and whether it is refused. */
export interface DirectoryTrustCase {
  readonly what: string;
  readonly prepare: (dir: string) => Promise<void>;
  readonly refused: boolean;
}

/**
 * The owners and modes `refuseUnlessAncestorsOurs` judges (stop 43), as made by root: root's 0755, a sticky
 * 1777 and one group-writable by the user's own primary group pass; another group's 2775, 0757 and one owned
 * by uid 65534 are refused.
 */
export const DIRECTORY_TRUST_CASES: readonly DirectoryTrustCase[] = [
  { what: 'mode 0755 of root', prepare: () => Promise.resolve(), refused: false },
  { what: 'sticky, mode 1777', prepare: (dir) => chmod(dir, 0o1777), refused: false },
  {
    what: "group-writable by the user's own primary group",
    prepare: async (dir) => {
      await chown(dir, 0, process.getegid!());
      await chmod(dir, 0o2775);
    },
    refused: false,
  },
  {
    what: 'group-writable by another group',
    prepare: async (dir) => {
      await chown(dir, 0, OTHER_UID);
      await chmod(dir, 0o2775);
    },
    refused: true,
  },
  { what: 'writable by others', prepare: (dir) => chmod(dir, 0o757), refused: true },
  { what: 'owned by another user', prepare: (dir) => chown(dir, OTHER_UID, OTHER_UID), refused: true },
];
