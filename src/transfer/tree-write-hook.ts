/**
 * Where a tree write is when a test's `beforeTreeWrite` runs (the server's PUT_DIR, PUT_LINK, SET_ATTRIBUTES;
 * the client's download of a tree, which makes directories and links and sets attributes by the same rules):
 * 'creating', a missing directory on the way about to be made in the directory `path`, which was `lstat`ed;
 * 'walked', the entry's path's directories `lstat`ed (and missing ones made), before the parent's re-check
 * and the entry's making; 'made', a directory made, before it is opened to set its mode and mtime;
 * 'checked' (SET_ATTRIBUTES), the parent re-checked, before the file is opened to set its mode and mtime;
 * 'clearing' (a link replacing a directory), a directory being removed checked, before it is read (`path`
 * is that one's).
 */
export type TreeWriteStep = 'creating' | 'walked' | 'made' | 'checked' | 'clearing';

/** A test's hook into a tree write: `path` is the entry's, on this side. */
export type BeforeTreeWrite = (path: string, step: TreeWriteStep) => Promise<void>;
