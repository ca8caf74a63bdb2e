/**
 * What delta downloads' scans of their old files did in this process, for tests and benches: leaves hashed
 * (ahead on the thread, or by the matcher), of them those hashed in place from the offer on
 * (`LeafHashesAhead`), leaves whose hash came from the client's store (a warm delta, issue 16), and old-file
 * offsets the matcher's weak checksum rolled over.
 */
export const OLD_FILE_SCAN_COUNTERS = { hashedLeaves: 0, inPlaceLeaves: 0, knownLeaves: 0, rolledOffsets: 0 };
