import { FerryError } from '../errors/index.js';
import type { ChunkEntry, TransferHeader } from '../transfer/index.js';

/** A partial key is one safe object-name segment (the server's transfer ids are 32 hex digits). */
export const KEY = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The state object beside a partial's parts: what the file store's `.state` log holds, readable by every
 * server. Rewritten whole by each `makeDurable` (a PUT replaces an object atomically).
 */
export interface PartialState {
  readonly v: 1;
  /** Which incarnation of the partial this is (a FRESH or restarted open makes a new one). */
  readonly gen: string;
  /**
   * Which writer's object holds each part: part n is `<key>/<writer>/<n>`. Every open writes its own
   * objects, so a server taking a transfer over never shares an object another server may still write.
   */
  readonly parts?: Readonly<Record<string, string>> | undefined;
  readonly size: number;
  readonly mtimeMs: number;
  readonly chunkBytes: number;
  /** The log: verified chunks whose bytes were uploaded before this state was written. */
  readonly entries: ReadonlyArray<readonly [number, string]>;
  /** A multipart upload started by `finish` and not yet completed (aborted by the sweeper or a reopen). */
  readonly finishing?: Finishing | undefined;
}

/** Where the finishing multipart upload of a partial points, so a sweeper can abort it. */
export interface Finishing {
  readonly target: string;
  readonly uploadId: string;
}

export function parseState(text: string): PartialState | undefined {
  try {
    const s = JSON.parse(text) as Partial<PartialState>;
    const ok =
      s.v === 1 &&
      typeof s.gen === 'string' &&
      /^[0-9a-f]{16}$/.test(s.gen) &&
      Number.isSafeInteger(s.size) &&
      s.size! >= 0 &&
      Number.isSafeInteger(s.mtimeMs) &&
      Number.isSafeInteger(s.chunkBytes) &&
      s.chunkBytes! > 0 &&
      Array.isArray(s.entries) &&
      s.entries.every(
        (e) =>
          Array.isArray(e) &&
          Number.isSafeInteger(e[0]) &&
          e[0] >= 0 &&
          typeof e[1] === 'string' &&
          /^[0-9a-f]{64}$/.test(e[1]),
      ) &&
      (s.parts === undefined ||
        (typeof s.parts === 'object' &&
          s.parts !== null &&
          Object.entries(s.parts).every(
            ([n, w]) => /^[1-9][0-9]{0,4}$/.test(n) && typeof w === 'string' && /^[0-9a-f]{16}$/.test(w),
          ))) &&
      (s.finishing === undefined ||
        (typeof s.finishing === 'object' &&
          s.finishing !== null &&
          typeof s.finishing.target === 'string' &&
          typeof s.finishing.uploadId === 'string'));
    return ok ? (s as PartialState) : undefined;
  } catch {
    return undefined;
  }
}

export function headerOf(state: PartialState): TransferHeader {
  return { size: state.size, mtimeMs: state.mtimeMs, chunkBytes: state.chunkBytes };
}

export function entriesOf(state: PartialState): ChunkEntry[] {
  return state.entries.map(([index, hash]) => ({ index, hash: Buffer.from(hash, 'hex') }));
}

/** PartialState.parts as a map. */
export function partWriters(state: PartialState): Map<number, string> {
  return new Map(Object.entries(state.parts ?? {}).map(([part, writer]) => [Number(part), writer]));
}

export function checkedKey(key: string): string {
  if (!KEY.test(key)) throw new FerryError('INTERNAL', 'a partial key is not a safe object name');
  return key;
}
