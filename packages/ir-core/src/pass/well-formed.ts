// Well-formedness checkers, one per function kind (`PrimFunc`, `relax.Function`),
// registered by the IR packages. A static table like the node-kind table: the set of
// IR kinds is fixed once the packages are loaded. The well-formed instrument and the
// test helpers run them.
import { ErrorCodes, KilnError } from '../errors.js';
import type { IRModule } from '../module.js';
import { moduleEntries } from '../module.js';
import type { Node } from '../node.js';

/** Returns the problems found in `fn` (empty when it is well-formed). */
export type WellFormedChecker<F extends Node = Node> = (fn: F, name: string) => readonly string[];

const checkers = new Map<string, WellFormedChecker>();

export function defineWellFormedChecker<F extends Node>(kind: F['kind'], check: WellFormedChecker<F>): void {
  if (checkers.has(kind))
    throw new KilnError(
      ErrorCodes.DUPLICATE_NAME,
      `a well-formedness checker for '${kind}' is already defined`,
    );
  checkers.set(kind, check as WellFormedChecker);
}

export function wellFormedChecker(kind: string): WellFormedChecker | undefined {
  return checkers.get(kind);
}

export interface WellFormedProblem {
  readonly function: string;
  readonly kind: string;
  readonly problems: readonly string[];
}

/** Run every applicable checker over the module's functions. */
export function checkWellFormed(mod: IRModule): WellFormedProblem[] {
  const out: WellFormedProblem[] = [];
  for (const [name, fn] of moduleEntries(mod)) {
    const check = checkers.get(fn.kind);
    if (!check) continue;
    const problems = check(fn, name);
    if (problems.length > 0)
      out.push(Object.freeze({ function: name, kind: fn.kind, problems: Object.freeze([...problems]) }));
  }
  return out;
}

/** Throw KilnError WELL_FORMED when `mod` is not well-formed; `context` says when. */
export function assertModuleWellFormed(mod: IRModule, context = 'module'): void {
  const found = checkWellFormed(mod);
  if (found.length === 0) return;
  const first = found[0];
  throw new KilnError(
    ErrorCodes.WELL_FORMED,
    `${context}: function '${first.function}' is not well-formed: ${first.problems[0]}`,
    {
      notes: found.flatMap((f) => f.problems.map((p) => `${f.function}: ${p}`)),
      details: { functions: found.map((f) => f.function) },
    },
  );
}
