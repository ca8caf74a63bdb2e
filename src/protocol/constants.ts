/**
 * Fixed numbers of the wire format (docs/PROTOCOL.md). Every limit carries its unit in its name; the
 * section that fixes it is cited beside it so a spec change and a constant change travel together.
 */

// The AES-GCM tag and the SHA-256 output are properties of the primitives, so crypto/ owns them (it cannot
// import protocol/); the wire format re-exports them rather than defining them a second time.
import { AEAD_TAG_BYTES, HASH_BYTES, REKEY_MESSAGE_TYPE } from '../crypto/index.js';

/**
 * Message types the record layer consumes itself (PROTOCOL.md §4.3, §5): REKEY. They share the type space of
 * the session's messages, but the channel acts on them and no session machine ever decodes one.
 */
export const RECORD_LAYER_TYPE_CODES = { REKEY: REKEY_MESSAGE_TYPE } as const;

/**
 * The protocol version this code speaks (PROTOCOL.md §2.1). A build speaks exactly one version: it offers
 * [PROTOCOL_VERSION, PROTOCOL_VERSION] and chooses it whenever an offer includes it (§2.3).
 */
export const PROTOCOL_VERSION = 2;

/**
 * Length of the 8-byte preamble layout `FERRY\0` and a u16 version (PROTOCOL.md §2): the first 8 bytes of
 * the client's version offer, and the whole of the server's version answer.
 */
export const PREAMBLE_BYTES = 8;

/** Length of the client's version offer: `FERRY\0`, u16 highest version, u16 lowest version (PROTOCOL.md §2). */
export const VERSION_OFFER_BYTES = 10;

/** Length of the server's version answer: `FERRY\0` and the u16 version it chose (PROTOCOL.md §2.3). */
export const VERSION_ANSWER_BYTES = PREAMBLE_BYTES;

/** The TCP port a server listens on unless told otherwise (PROTOCOL.md §2). */
export const DEFAULT_PORT = 7443;

/** Largest record body (ciphertext) a u16 length can announce (PROTOCOL.md §4.1). */
export const MAX_RECORD_BYTES = 65535;

/** Smallest record body: a 1-byte message plus the AEAD tag (PROTOCOL.md §4.1). */
export const MIN_RECORD_BYTES = 1 + AEAD_TAG_BYTES;

/** Length of the AES-GCM tag that ends every record's ciphertext (PROTOCOL.md §4.1). */
export { AEAD_TAG_BYTES };

/** The Noise protocol name of the handshake: XX with ML-KEM-768 hybrid forward secrecy (PROTOCOL.md §3.1). */
export const NOISE_PROTOCOL_NAME = 'Noise_XXhfs_25519+MLKEM768_AESGCM_SHA256';

/** Largest message (type byte and body) that fits in one record (PROTOCOL.md §4.1, §5). */
export const MAX_MESSAGE_BYTES = MAX_RECORD_BYTES - AEAD_TAG_BYTES;

/** Largest handshake message a u16 length can announce (PROTOCOL.md §3.1). */
export const MAX_HANDSHAKE_MESSAGE_BYTES = 65535;

/** Largest remote path in UTF-8 bytes (PROTOCOL.md §7.1). */
export const MAX_PATH_BYTES = 4096;

/** Largest component of a remote path in UTF-8 bytes (PROTOCOL.md §7.1). */
export const MAX_COMPONENT_BYTES = 255;

/** Largest ERROR detail in UTF-8 bytes (PROTOCOL.md §5, §5.1). */
export const MAX_DETAIL_BYTES = 1024;

/** Most ranges a PUT_ACCEPT may list (PROTOCOL.md §5.4). */
export const MAX_ACCEPT_RANGES = 4096;

/**
 * Bytes of one leaf of the file's Merkle tree, 64 KiB (PROTOCOL.md §7.2): chunks are whole numbers of leaves,
 * and the file digest is defined over leaves, so it does not depend on the chunk size.
 */
export const LEAF_BYTES = 64 * 1024;

/** Smallest chunk size a PUT_OFFER may name: one leaf (PROTOCOL.md §5.3, §7.2). */
export const MIN_CHUNK_BYTES = LEAF_BYTES;

/** Largest chunk size a PUT_OFFER may name, 64 MiB (PROTOCOL.md §5.3). */
export const MAX_CHUNK_BYTES = 2 ** 26;

/** The chunk size clients use unless told otherwise, 4 MiB (PROTOCOL.md §10). */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

/** Most chunks one file may have: `size / chunkBytes` rounded up fits a u32 (PROTOCOL.md §5.3). */
export const MAX_CHUNK_COUNT = 2 ** 32 - 1;

/**
 * Chunks per transfer a ferry receiver accepts (PROTOCOL.md §10): it keeps a 32-byte hash per chunk, so
 * this bounds that table at 32 MiB. A sender picks a chunk size that keeps a file within it.
 */
export const MAX_TRANSFER_CHUNKS = 2 ** 20;

/** Bytes before the data in a PUT_DATA message: type, u32 ref, u64 offset (PROTOCOL.md §5). */
export const PUT_DATA_HEADER_BYTES = 13;

/** Most file bytes one PUT_DATA message can carry. */
export const MAX_PUT_DATA_BYTES = MAX_MESSAGE_BYTES - PUT_DATA_HEADER_BYTES;

/** Bytes before the data in a GET_DATA message: the same layout as PUT_DATA (PROTOCOL.md §5, §5.11.2). */
export const GET_DATA_HEADER_BYTES = PUT_DATA_HEADER_BYTES;

/** Most file bytes one GET_DATA message can carry. */
export const MAX_GET_DATA_BYTES = MAX_MESSAGE_BYTES - GET_DATA_HEADER_BYTES;

/** Largest PUT_LINK target or listed link target in UTF-8 bytes (PROTOCOL.md §5, §5.10, §5.12). */
export const MAX_LINK_TARGET_BYTES = 4096;

/** Bytes before the entries in a LIST_ENTRIES message: type, u32 ref, u16 count (PROTOCOL.md §5.12). */
export const LIST_ENTRIES_HEADER_BYTES = 7;

/** Most entries one listing may have; a larger one fails with FILE_TOO_LARGE (PROTOCOL.md §5.12, §10). */
export const MAX_LIST_ENTRIES = 1_000_000;

/**
 * Most bytes the entries of one listing may add up to, as encoded in LIST_ENTRIES (PROTOCOL.md §5.12, §10):
 * 128 MiB, an average of 134 bytes for each of MAX_LIST_ENTRIES. A client holds a whole listing before it
 * acts on it, so this and MAX_LIST_ENTRIES bound what one listing can make it hold.
 */
export const MAX_LIST_BYTES = 128 * 1024 * 1024;

/** Most transfers or requests a client may leave unanswered on a session (PROTOCOL.md §5.8, §5.11.4). */
export const MAX_PIPELINED = 256;

/** First path component the server keeps for its own state (PROTOCOL.md §7.1). */
export const RESERVED_ROOT_COMPONENT = '.ferry';

/** WELCOME permission bit 0: the client may upload (PROTOCOL.md §5). */
export const PERMISSION_UPLOAD = 1;

/** WELCOME permission bit 1: the client may download (PROTOCOL.md §5). */
export const PERMISSION_DOWNLOAD = 2;

/** PUT_OFFER flag bit 0: replace an existing file (PROTOCOL.md §5.3). */
export const PUT_OFFER_FLAG_OVERWRITE = 1;

/** PUT_OFFER flag bit 1: discard partial state and start from no chunks (PROTOCOL.md §5.3). */
export const PUT_OFFER_FLAG_FRESH = 2;

/** PUT_OFFER flag bit 2 (PROTOCOL.md §5.13): attach to the transfer another session is receiving. */
export const PUT_OFFER_FLAG_JOIN = 4;

/** PUT_OFFER flags bit 3 `DELTA`: with OVERWRITE, send the old file's signature (PROTOCOL.md §5.15.1). */
export const PUT_OFFER_FLAG_DELTA = 8;

/**
 * PUT_OFFER flags bit 4 `REPLACE_DIR`: with OVERWRITE, a directory at `path` is replaced, with all it holds,
 * when the file is placed (PROTOCOL.md §5.3; `ferry sync --delete`).
 */
export const PUT_OFFER_FLAG_REPLACE_DIR = 16;

/**
 * PUT_OFFER flags bit 5 `NOT_UTF8`: with REPLACE_DIR, names that are not UTF-8 below the replaced directory go
 * too (PROTOCOL.md §5.3), as REMOVE_REQUEST's NOT_UTF8 (§5.16). Asked for, never the default.
 */
export const PUT_OFFER_FLAG_NOT_UTF8 = 32;

/**
 * Bytes of a join token (PROTOCOL.md §5.13.2): random, issued in the primary's PUT_ACCEPT, required on JOIN, so
 * only the sessions the primary's client hands it to can add streams to its transfer (as MPTCP's MP_JOIN).
 */
export const JOIN_TOKEN_BYTES = 16;

/** PUT_ACCEPT flag bit 0: a partial with other size, mtime or chunk size was discarded (PROTOCOL.md §5.4). */
export const PUT_ACCEPT_FLAG_RESTARTED = 1;

/** PUT_ACCEPT flag bit 1: the destination exists with the offered size, all listed (PROTOCOL.md §5.4). */
export const PUT_ACCEPT_FLAG_EXISTING = 2;

/** PUT_ACCEPT flags bit 2 `DELTA`: DELTA_BLOCKS records follow (PROTOCOL.md §5.15.1). */
export const PUT_ACCEPT_FLAG_DELTA = 4;

/** PUT_DONE flag bit 0: the destination already held this content and was not written (PROTOCOL.md §5.6). */
export const PUT_DONE_FLAG_IDENTICAL = 1;

/** PUT_DONE flag bit 1 (PROTOCOL.md §5.13): a joined stream's part is done. */
export const PUT_DONE_FLAG_PART = 2;

/** PUT_LINK flag bit 0: replace an existing link (never a file or directory) (PROTOCOL.md §5.10). */
export const PUT_LINK_FLAG_OVERWRITE = 1;

/** PUT_LINK flag bit 1 `REPLACE_DIR`: with OVERWRITE, replace a directory too, when the link is placed (§5.10). */
export const PUT_LINK_FLAG_REPLACE_DIR = 2;

/** PUT_LINK flag bit 2 `NOT_UTF8`: with REPLACE_DIR, as PUT_OFFER's (PROTOCOL.md §5.10, §5.3). */
export const PUT_LINK_FLAG_NOT_UTF8 = 4;

/**
 * REMOVE_REQUEST flag bit 0 `NOT_UTF8` (PROTOCOL.md §5.16): a directory holding nothing but names that are
 * not UTF-8 goes with them. Asked for, never the default: an exclude pattern cannot match such a name.
 */
export const REMOVE_FLAG_NOT_UTF8 = 1;

/** GET_REQUEST flag bit 0: the client holds the whole file, asks only if identical (PROTOCOL.md §5.11.1). */
export const GET_FLAG_VERIFY_ONLY = 1;

/** GET_OFFER flag bit 0: the server accepted the client's held chunks (PROTOCOL.md §5.11.2). */
export const GET_OFFER_FLAG_HELD_ACCEPTED = 1;

/** GET_REQUEST flag bit 1: send only one stripe of the missing chunks (PROTOCOL.md §5.13.6). */
export const GET_FLAG_STRIPED = 2;

/** GET_OFFER flag bit 1: the request's stripe applies, the file being large enough (PROTOCOL.md §5.13.6). */
export const GET_OFFER_FLAG_STRIPED = 2;

/**
 * GET_REQUEST flag bit 2: send the file's signature (its leaves' DELTA_BLOCKS records) and its digest, not
 * its chunks, so the client can build the file from its own old copy (PROTOCOL.md §5.17).
 */
export const GET_FLAG_SIGNATURE = 4;

/** GET_OFFER flag bit 2: the signature follows, as asked (PROTOCOL.md §5.17.2). */
export const GET_OFFER_FLAG_SIGNATURE = 4;

/**
 * GET_REQUEST flag bit 3: of the chunks not held, send only the byte pieces listed after the path; the
 * client holds the rest of their bytes from its old copy (PROTOCOL.md §5.17.4).
 */
export const GET_FLAG_PATCH = 8;

/** GET_OFFER flag bit 3: the request's pieces apply: only they follow, each chunk then its hash (§5.17.4). */
export const GET_OFFER_FLAG_PATCHED = 8;

/** Most byte pieces one PATCH request lists (PROTOCOL.md §5.17.4): 4096 × 12 bytes, 48 KiB. */
export const MAX_PATCH_PIECES = 4096;

/** Most streams one download may be striped over (PROTOCOL.md §5.13.6). */
export const MAX_GET_STRIPES = 16;

/** LIST_REQUEST flag bit 0: list the whole tree under the path, not only its children (PROTOCOL.md §5.12). */
export const LIST_FLAG_RECURSIVE = 1;
/** LIST_REQUEST flag bit 1 (PROTOCOL.md §5.12): describe the path itself in LIST_END, list no entries. */
export const LIST_FLAG_SELF_ONLY = 2;
/**
 * LIST_REQUEST flag bit 2 (PROTOCOL.md §5.12): the client needs each entry's kind, path, size and link target
 * only, so a server for which a file's mode and mtime cost a request each (an object store) may send them as 0.
 */
export const LIST_FLAG_NAMES_ONLY = 4;

/** LIST_END flag bit 0 (PROTOCOL.md §5.12): the listed path is a file, not a directory. */
export const LIST_END_FLAG_IS_FILE = 1;

/** Permission bits any `mode` on the wire may carry: no file-type bits (PROTOCOL.md §5.3). */
export const FILE_MODE_MASK = 0o7777;

/** Length of a SHA-256 chunk hash, file digest or have-digest (PROTOCOL.md §1, §7.2). */
export { HASH_BYTES };

/**
 * Largest file a PUT_BATCH entry carries (PROTOCOL.md §5.14): 60 KiB, the largest round size whose entry fits
 * one record with any path up to 4019 bytes (12 + 61440 + 48 + 4019 = MAX_MESSAGE_BYTES; a longer path goes the
 * one-file way). Up to here a file's own bytes cost less than a transfer of its own (issue 16).
 */
export const MAX_BATCH_FILE_BYTES = 60 * 1024;

/** Most entries one batch holds (PROTOCOL.md §5.14): bounds the BATCH_DONE answer and the server's work. */
export const MAX_BATCH_ENTRIES = 512;

/** Most file bytes one batch holds (PROTOCOL.md §5.14): what a server keeps in memory for one batch. */
export const MAX_BATCH_DATA_BYTES = 2 * 1024 * 1024;

/** The bytes of a PUT_BATCH before its entries: type, ref, flags, chunkBytes, entry count (§5.14). */
export const PUT_BATCH_HEADER_BYTES = 1 + 4 + 1 + 4 + 2;

/** PUT_BATCH flag: every entry may replace an existing file (§5.14, as PUT_OFFER's OVERWRITE). */
export const PUT_BATCH_FLAG_OVERWRITE = 1;

/** The bytes of a GET_BATCH before its paths: type, ref, flags, path count (PROTOCOL.md §5.20). */
export const GET_BATCH_HEADER_BYTES = 1 + 4 + 1 + 2;

/** The bytes of a GET_BATCH_DATA before its entries: type, ref, entry count (PROTOCOL.md §5.20). */
export const GET_BATCH_DATA_HEADER_BYTES = 1 + 4 + 2;
