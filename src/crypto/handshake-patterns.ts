import { FerryError } from '../errors/index.js';

/**
 * A token of a message pattern (Noise spec §7.1, §9), plus the KEM tokens `e1` and `ekem1` of the Noise HFS
 * extension (noise_hfs revision 1, §4).
 */
export type MessageToken = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk' | 'e1' | 'ekem1';
/** A token allowed in a pre-message pattern (spec §7.1). */
export type PreMessageToken = 'e' | 's';
/** Which party sends a message: `->` is the initiator, `<-` the responder. */
export type HandshakeRole = 'initiator' | 'responder';

/** One message of a handshake pattern: who sends it and the tokens it performs, in order. */
export interface MessagePattern {
  readonly sender: HandshakeRole;
  readonly tokens: readonly MessageToken[];
}

/** A parsed handshake pattern: its pre-messages and messages. */
export interface HandshakePattern {
  /** The pattern name, including modifiers (`XXpsk3`). */
  readonly name: string;
  /** Keys the initiator's peer knows before the handshake (`-> s` above the `...`). */
  readonly initiatorPreMessage: readonly PreMessageToken[];
  /** Keys the responder's peer knows before the handshake (`<- s` above the `...`). */
  readonly responderPreMessage: readonly PreMessageToken[];
  readonly messages: readonly MessagePattern[];
  /** True for N, K and X: every message goes from initiator to responder. */
  readonly oneWay: boolean;
  /** Number of psk tokens; when non-zero, `e` also calls MixKey (spec §9). */
  readonly pskCount: number;
  /** True with the `hfs` modifier: the pattern carries `e1` and `ekem1` and needs a KEM (noise_hfs §5). */
  readonly hfs: boolean;
}

// The patterns written exactly as in the spec (revision 34): lines above `...` are pre-messages. Keeping the
// spec's notation makes each row checkable against the document by eye.
const ONE_WAY: Readonly<Record<string, readonly string[]>> = {
  // spec §7: one-way patterns
  N: ['<- s', '...', '-> e, es'],
  K: ['-> s', '<- s', '...', '-> e, es, ss'],
  X: ['<- s', '...', '-> e, es, s, ss'],
};

const INTERACTIVE: Readonly<Record<string, readonly string[]>> = {
  // spec §7: fundamental interactive patterns
  NN: ['-> e', '<- e, ee'],
  NK: ['<- s', '...', '-> e, es', '<- e, ee'],
  NX: ['-> e', '<- e, ee, s, es'],
  KN: ['-> s', '...', '-> e', '<- e, ee, se'],
  KK: ['-> s', '<- s', '...', '-> e, es, ss', '<- e, ee, se'],
  KX: ['-> s', '...', '-> e', '<- e, ee, se, s, es'],
  XN: ['-> e', '<- e, ee', '-> s, se'],
  XK: ['<- s', '...', '-> e, es', '<- e, ee', '-> s, se'],
  XX: ['-> e', '<- e, ee, s, es', '-> s, se'],
  IN: ['-> e, s', '<- e, ee, se'],
  IK: ['<- s', '...', '-> e, es, s, ss', '<- e, ee, se'],
  IX: ['-> e, s', '<- e, ee, se, s, es'],
  // spec §7: deferred patterns
  NK1: ['<- s', '...', '-> e', '<- e, ee, es'],
  NX1: ['-> e', '<- e, ee, s', '-> es'],
  X1N: ['-> e', '<- e, ee', '-> s', '<- se'],
  X1K: ['<- s', '...', '-> e, es', '<- e, ee', '-> s', '<- se'],
  XK1: ['<- s', '...', '-> e', '<- e, ee, es', '-> s, se'],
  X1K1: ['<- s', '...', '-> e', '<- e, ee, es', '-> s', '<- se'],
  X1X: ['-> e', '<- e, ee, s, es', '-> s', '<- se'],
  XX1: ['-> e', '<- e, ee, s', '-> es, s, se'],
  X1X1: ['-> e', '<- e, ee, s', '-> es, s', '<- se'],
  K1N: ['-> s', '...', '-> e', '<- e, ee', '-> se'],
  K1K: ['-> s', '<- s', '...', '-> e, es', '<- e, ee', '-> se'],
  KK1: ['-> s', '<- s', '...', '-> e', '<- e, ee, se, es'],
  K1K1: ['-> s', '<- s', '...', '-> e', '<- e, ee, es', '-> se'],
  K1X: ['-> s', '...', '-> e', '<- e, ee, s, es', '-> se'],
  KX1: ['-> s', '...', '-> e', '<- e, ee, se, s', '-> es'],
  K1X1: ['-> s', '...', '-> e', '<- e, ee, s', '-> se, es'],
  I1N: ['-> e, s', '<- e, ee', '-> se'],
  I1K: ['<- s', '...', '-> e, es, s', '<- e, ee', '-> se'],
  IK1: ['<- s', '...', '-> e, s', '<- e, ee, se, es'],
  I1K1: ['<- s', '...', '-> e, s', '<- e, ee, es', '-> se'],
  I1X: ['-> e, s', '<- e, ee, s, es', '-> se'],
  IX1: ['-> e, s', '<- e, ee, se, s', '-> es'],
  I1X1: ['-> e, s', '<- e, ee, s', '-> se, es'],
};

/**
 * Every base handshake pattern ferry's Noise layer implements, keyed by name, in the spec's notation. Modifiers
 * (`psk0`, `psk2`, ...) are applied on top by `handshakePattern()`.
 */
export const HANDSHAKE_PATTERNS: Readonly<Record<string, readonly string[]>> = { ...ONE_WAY, ...INTERACTIVE };

const MESSAGE_TOKENS: ReadonlySet<string> = new Set(['e', 's', 'ee', 'es', 'se', 'ss']);
const PATTERN_NAME = /^([NKXI1]+)(hfs)?((?:psk\d+)(?:\+psk\d+)*)?$/;

/**
 * Returns the handshake pattern for a name such as `XX`, `XXhfs`, `IKpsk2` or `NNpsk0+psk2`. Unknown patterns
 * and modifiers throw HANDSHAKE_FAILED naming what is unsupported.
 */
export function handshakePattern(name: string): HandshakePattern {
  const match = PATTERN_NAME.exec(name);
  const base = match?.[1];
  const lines = base === undefined ? undefined : HANDSHAKE_PATTERNS[base];
  if (match === null || base === undefined || lines === undefined) {
    throw new FerryError('HANDSHAKE_FAILED', `unsupported handshake pattern "${name}"`);
  }
  const parsed = parsePatternLines(lines, base in ONE_WAY);
  const hfs = match[2] !== undefined;
  if (hfs) applyHfsModifier(name, parsed);
  const pskPositions = match[3] === undefined ? [] : match[3].split('+').map((m) => Number(m.slice(3)));
  return { ...applyPskModifiers(name, parsed, pskPositions), hfs };
}

interface ParsedPattern {
  initiatorPreMessage: PreMessageToken[];
  responderPreMessage: PreMessageToken[];
  messages: { sender: HandshakeRole; tokens: MessageToken[] }[];
  oneWay: boolean;
}

function parsePatternLines(lines: readonly string[], oneWay: boolean): ParsedPattern {
  const split = lines.indexOf('...');
  const preLines = split < 0 ? [] : lines.slice(0, split);
  const messageLines = split < 0 ? lines : lines.slice(split + 1);
  const pattern: ParsedPattern = { initiatorPreMessage: [], responderPreMessage: [], messages: [], oneWay };
  for (const line of preLines) {
    const { sender, tokens } = parseLine(line);
    for (const token of tokens) {
      if (token !== 'e' && token !== 's')
        throw new FerryError('INTERNAL', `bad pre-message token "${token}"`);
    }
    const target = sender === 'initiator' ? pattern.initiatorPreMessage : pattern.responderPreMessage;
    target.push(...(tokens as PreMessageToken[]));
  }
  for (const line of messageLines) pattern.messages.push(parseLine(line));
  return pattern;
}

function parseLine(line: string): { sender: HandshakeRole; tokens: MessageToken[] } {
  const arrow = line.slice(0, 2);
  if (arrow !== '->' && arrow !== '<-') throw new FerryError('INTERNAL', `bad pattern line "${line}"`);
  const tokens = line
    .slice(2)
    .split(',')
    .map((t) => t.trim());
  for (const token of tokens) {
    if (!MESSAGE_TOKENS.has(token)) throw new FerryError('INTERNAL', `bad pattern token "${token}"`);
  }
  return { sender: arrow === '->' ? 'initiator' : 'responder', tokens: tokens as MessageToken[] };
}

// Spec §9: `psk0` puts a psk token at the start of the first message; `pskN` (N >= 1) at the end of the
// N-th message.
function applyPskModifiers(
  name: string,
  pattern: ParsedPattern,
  positions: readonly number[],
): HandshakePattern {
  for (const position of positions) {
    const message = pattern.messages[position === 0 ? 0 : position - 1];
    if (message === undefined || !Number.isSafeInteger(position)) {
      throw new FerryError(
        'HANDSHAKE_FAILED',
        `unsupported handshake pattern "${name}": no message for psk${position}`,
      );
    }
    if (position === 0) message.tokens.unshift('psk');
    else message.tokens.push('psk');
  }
  return {
    name,
    initiatorPreMessage: pattern.initiatorPreMessage,
    responderPreMessage: pattern.responderPreMessage,
    messages: pattern.messages,
    oneWay: pattern.oneWay,
    pskCount: positions.length,
    hfs: false,
  };
}

/**
 * noise_hfs §5: `e1` directly after the first `e` and `ekem1` directly after the first `ee`. The spec's other
 * placement (after a DH in the same message as the first `e`, so the KEM key is encrypted) is written
 * inconsistently in its own table (KKhfs and INhfs disagree with the rule), so patterns that would need it are
 * refused rather than guessed; the interactive patterns whose first `e` stands alone (NN, NX, XN, XX, KN, KX,
 * and the deferred ones like them) are unambiguous.
 */
function applyHfsModifier(name: string, pattern: ParsedPattern): void {
  if (pattern.oneWay) throw new FerryError('HANDSHAKE_FAILED', `unsupported handshake pattern "${name}"`);
  const first = pattern.messages.find((m) => m.tokens.includes('e'));
  const withEe = pattern.messages.find((m) => m.tokens.includes('ee'));
  const isDh = (token: MessageToken): boolean => ['ee', 'es', 'se', 'ss'].includes(token);
  if (first === undefined || withEe === undefined || first.tokens.some(isDh)) {
    throw new FerryError('HANDSHAKE_FAILED', `unsupported handshake pattern "${name}": hfs placement`);
  }
  first.tokens.splice(first.tokens.indexOf('e') + 1, 0, 'e1');
  withEe.tokens.splice(withEe.tokens.indexOf('ee') + 1, 0, 'ekem1');
}
