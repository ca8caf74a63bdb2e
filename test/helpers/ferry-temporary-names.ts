/**
 * One name of each of the client's temporaries beside a destination (`isFerryTemporaryName`): a download's
 * partial, its state and that state's temporary beside `big`, a link being placed, a batch's temporary.
 */
export const FERRY_TEMPORARY_NAMES: readonly string[] = [
  '.big.ferry-part',
  '.big.ferry-state',
  '.big.ferry-state.tmp',
  '.big.0123456789abcdef.ferry-link',
  '.ferry-batch-0123456789abcdef-0',
];

/** The names said skipped as ferry's temporaries, sorted (under a tree's name: `t/.big.ferry-part`). */
export function skippedTemporaryNames(stderr: string): string[] {
  return [
    ...stderr.matchAll(/^ferry: skipped (?:\S+\/)?(\S+): its name is one ferry gives its own temporaries/gm),
  ]
    .map((m) => m[1]!)
    .sort();
}
