// A minimal client of etcd 3.4's HTTP/JSON gateway (the v3 gRPC API as JSON over HTTP: `/v3/kv/txn`,
// `/v3/lease/grant`, `/v3/lease/keepalive`, `/v3/watch`), with node's fetch and no dependency
// (docs/ARCHITECTURE.md, "Coordination"). Keys and values travel base64-encoded, int64s as decimal strings.
import { FerryError } from '../errors/index.js';

/** One key-value as etcd reports it (decoded). */
export interface EtcdKv {
  readonly key: string;
  readonly value: string;
  readonly modRevision: bigint;
  readonly lease: string;
}

/** One watch event: a put (value set) or a delete. */
export interface EtcdEvent {
  readonly type: 'PUT' | 'DELETE';
  readonly kv: EtcdKv;
}

export type EtcdCompare =
  | { key: string; target: 'VERSION'; result: 'EQUAL' | 'NOT_EQUAL'; version: string }
  | { key: string; target: 'VALUE'; result: 'EQUAL' | 'NOT_EQUAL'; value: string };

export type EtcdOp =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: { key: string } }
  | { range: { key: string; rangeEnd?: string } };

/** The outcome of a txn: which branch ran, the revision, and the key-values its ranges read. */
export interface EtcdTxnResult {
  readonly succeeded: boolean;
  readonly revision: bigint;
  readonly kvs: EtcdKv[];
}

/** How long one unary request may take before etcd counts as unreachable. */
const REQUEST_TIMEOUT_MS = 3000;

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string | undefined): string => Buffer.from(text ?? '', 'base64').toString('utf8');

/** The key just past every key starting with `prefix` (etcd's range end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  bytes[bytes.length - 1]! += 1;
  return bytes.toString('utf8');
}

interface RawKv {
  key?: string;
  value?: string;
  mod_revision?: string;
  lease?: string;
}

function kvOf(raw: RawKv): EtcdKv {
  return {
    key: unb64(raw.key),
    value: unb64(raw.value),
    modRevision: BigInt(raw.mod_revision ?? '0'),
    lease: raw.lease ?? '0',
  };
}

function unreachable(endpoint: string, err: unknown): FerryError {
  // SERVER_BUSY is retryable: a client tries again, by then etcd may be back (fail closed, docs/SECURITY.md).
  return new FerryError('SERVER_BUSY', 'the coordination service (etcd) is unreachable', {
    cause: err,
    subject: endpoint,
  });
}

export class EtcdGateway {
  /** `endpoint`: etcd's client URL, `http://HOST:PORT`. */
  constructor(readonly endpoint: string) {}

  async #post(path: string, body: unknown): Promise<Record<string, unknown>> {
    let response: Response;
    try {
      response = await fetch(`${this.endpoint}${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw unreachable(this.endpoint, err);
    }
    const text = await response.text().catch((err: unknown) => {
      throw unreachable(this.endpoint, err);
    });
    if (response.status !== 200) {
      throw unreachable(this.endpoint, new Error(`etcd answered ${response.status} to ${path}`));
    }
    return JSON.parse(text) as Record<string, unknown>;
  }

  /** A new lease of `ttlSeconds`; resolves to its id. */
  async grant(ttlSeconds: number): Promise<string> {
    const out = await this.#post('/v3/lease/grant', { TTL: String(ttlSeconds) });
    if (typeof out['ID'] !== 'string') throw unreachable(this.endpoint, new Error('no lease id'));
    return out['ID'];
  }

  /** Renews lease `id` once; resolves to its remaining TTL in seconds (0 or less: the lease is gone). */
  async keepAlive(id: string): Promise<number> {
    const out = await this.#post('/v3/lease/keepalive', { ID: id });
    const result = out['result'] as { TTL?: string } | undefined;
    return Number(result?.TTL ?? '0');
  }

  /** Revokes lease `id`: every key under it is deleted at once. */
  async revoke(id: string): Promise<void> {
    await this.#post('/v3/lease/revoke', { ID: id });
  }

  /** One atomic compare-and-swap (etcd's Txn). */
  async txn(compare: EtcdCompare[], success: EtcdOp[], failure: EtcdOp[] = []): Promise<EtcdTxnResult> {
    const op = (o: EtcdOp): unknown =>
      'put' in o
        ? { request_put: { key: b64(o.put.key), value: b64(o.put.value), lease: o.put.lease } }
        : 'delete' in o
          ? { request_delete_range: { key: b64(o.delete.key) } }
          : {
              request_range: {
                key: b64(o.range.key),
                range_end: o.range.rangeEnd === undefined ? undefined : b64(o.range.rangeEnd),
              },
            };
    const out = await this.#post('/v3/kv/txn', {
      compare: compare.map((c) =>
        c.target === 'VERSION'
          ? { key: b64(c.key), target: 'VERSION', result: c.result, version: c.version }
          : { key: b64(c.key), target: 'VALUE', result: c.result, value: b64(c.value) },
      ),
      success: success.map(op),
      failure: failure.map(op),
    });
    const responses = (out['responses'] as Array<{ response_range?: { kvs?: RawKv[] } }> | undefined) ?? [];
    return {
      succeeded: out['succeeded'] === true,
      revision: BigInt((out['header'] as { revision?: string } | undefined)?.revision ?? '0'),
      kvs: responses.flatMap((r) => (r.response_range?.kvs ?? []).map(kvOf)),
    };
  }

  /** The key-values from `key` up to `rangeEnd` (just `key` without it) and the store's revision. */
  async range(key: string, rangeEnd?: string): Promise<{ kvs: EtcdKv[]; revision: bigint }> {
    const out = await this.#post('/v3/kv/range', {
      key: b64(key),
      range_end: rangeEnd === undefined ? undefined : b64(rangeEnd),
    });
    return {
      kvs: ((out['kvs'] as RawKv[] | undefined) ?? []).map(kvOf),
      revision: BigInt((out['header'] as { revision?: string } | undefined)?.revision ?? '0'),
    };
  }

  /**
   * Watches `key` (to `rangeEnd`) from `startRevision`, calling `onEvent` for each event in order, until
   * `signal` aborts (resolves) or the stream breaks (rejects with SERVER_BUSY).
   */
  async watch(
    options: {
      key: string;
      rangeEnd?: string;
      startRevision: bigint;
      signal: AbortSignal;
      /** Called once etcd accepted the watch (its stream is open). */
      onOpen?: () => void;
    },
    onEvent: (event: EtcdEvent) => void,
  ): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${this.endpoint}/v3/watch`, {
        method: 'POST',
        body: JSON.stringify({
          create_request: {
            key: b64(options.key),
            range_end: options.rangeEnd === undefined ? undefined : b64(options.rangeEnd),
            start_revision: String(options.startRevision),
          },
        }),
        signal: options.signal,
      });
    } catch (err) {
      if (options.signal.aborted) return;
      throw unreachable(this.endpoint, err);
    }
    if (response.status !== 200 || !response.body) {
      throw unreachable(this.endpoint, new Error(`etcd answered ${response.status} to /v3/watch`));
    }
    options.onOpen?.();
    const decoder = new TextDecoder();
    let pending = '';
    try {
      for await (const chunk of response.body) {
        pending += decoder.decode(chunk as Uint8Array, { stream: true });
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line === '') continue;
          const message = JSON.parse(line) as {
            result?: { canceled?: boolean; events?: Array<{ type?: string; kv?: RawKv }> };
            error?: unknown;
          };
          if (message.error !== undefined || message.result?.canceled) {
            throw new Error('etcd ended the watch');
          }
          for (const event of message.result?.events ?? []) {
            onEvent({ type: event.type === 'DELETE' ? 'DELETE' : 'PUT', kv: kvOf(event.kv ?? {}) });
          }
        }
      }
    } catch (err) {
      if (options.signal.aborted) return;
      throw unreachable(this.endpoint, err);
    }
    if (!options.signal.aborted) throw unreachable(this.endpoint, new Error('the watch stream ended'));
  }
}
