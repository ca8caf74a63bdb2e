import type { FuzzTarget } from './run-fuzz.js';
import type { ServerTargetOptions } from './targets/server-target.js';

/** Every fuzz target by name, in the order `--target all` runs them. */
export const FUZZ_TARGET_NAMES = [
  'frame-decoder',
  'message-decoder',
  'preamble',
  'handshake',
  'server',
  'client-delta',
  'server-delta',
  'client-sync',
  'server-sync',
] as const;
export type FuzzTargetName = (typeof FUZZ_TARGET_NAMES)[number];

export function isFuzzTargetName(name: string): name is FuzzTargetName {
  return (FUZZ_TARGET_NAMES as readonly string[]).includes(name);
}

/**
 * Creates a target (imported on demand, so one target's imports never stop another from running); the
 * server target needs a work directory and starts a server child, the delta relay targets a work directory
 * for their server's root and the client's files.
 */
export async function createFuzzTarget(
  name: FuzzTargetName,
  server: ServerTargetOptions | undefined = undefined,
): Promise<FuzzTarget> {
  switch (name) {
    case 'frame-decoder':
      return (await import('./targets/frame-decoder-target.js')).frameDecoderTarget();
    case 'message-decoder':
      return (await import('./targets/message-decoder-target.js')).messageDecoderTarget();
    case 'preamble':
      return (await import('./targets/preamble-target.js')).preambleTarget();
    case 'handshake':
      return (await import('./targets/handshake-target.js')).handshakeTarget();
    case 'server': {
      if (server === undefined) throw new Error('the server target needs a work directory');
      const { ServerFuzzTarget } = await import('./targets/server-target.js');
      return ServerFuzzTarget.start(server);
    }
    case 'client-delta':
    case 'server-delta': {
      if (server === undefined) throw new Error(`the ${name} target needs a work directory`);
      const { DeltaRelayFuzzTarget } = await import('./targets/delta-relay-target.js');
      return DeltaRelayFuzzTarget.start(name === 'client-delta' ? 'client' : 'server', server);
    }
    case 'client-sync':
    case 'server-sync': {
      if (server === undefined) throw new Error(`the ${name} target needs a work directory`);
      const { TreeRelayFuzzTarget } = await import('./targets/tree-relay-target.js');
      return TreeRelayFuzzTarget.start(name === 'client-sync' ? 'client' : 'server', server);
    }
  }
}
