import { FerryError } from '../errors/index.js';

/**
 * Refuses `-` where another tool would read standard input (`send -`) or write standard output (`get SRC
 * -`): ferry transfers files, which it verifies by their digest and resumes from what is held, and a stream
 * is neither (`get` made a file called `-`, `send` said "no such file"). `./-` still names a file called `-`.
 */
export function refuseStandardStream(argument: string, side: 'source' | 'destination'): void {
  if (argument !== '-') return;
  throw new FerryError(
    'USAGE_INVALID',
    side === 'source'
      ? '- (standard input) cannot be sent: ferry sends files, verified and resumable; save the stream to a file first (./- names a file called -)'
      : '- (standard output) cannot be written: ferry writes files, verified and resumable; name a file, then read it (./- names a file called -)',
  );
}
