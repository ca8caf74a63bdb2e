import type { SweepablePartialStore } from '../transfer/index.js';

/**
 * Where a server keeps received files when they live in an object store instead of under its root
 * (`ferry serve --store s3://...`, issue 15): its partials, keyed by transfer id, and the object each
 * finished upload becomes. `S3PartialStore` (src/objectstore/) is one; the server only knows this port.
 */
export interface ServerObjectStore extends SweepablePartialStore<string, string> {
  /** The object a file at `relativePath` (already checked, PROTOCOL.md §7.1) is placed as. */
  targetOf(relativePath: string): string;
  /** Whether `target` exists now. */
  exists(target: string): Promise<boolean>;
}
