// The built-in operator set and `createOpRegistry()`, which returns a fresh registry
// (one per compiler instance) preloaded with them and their legalizations.

import { ErrorCodes, KilnError } from '@kiln/ir-core';
import type { LegalizeTable } from '../legalize/common.js';
import { ELEMWISE_LEGALIZE } from '../legalize/elemwise.js';
import { LINALG_LEGALIZE } from '../legalize/linalg.js';
import { MANIP_LEGALIZE } from '../legalize/manip.js';
import { NN_LEGALIZE } from '../legalize/nn.js';
import { REDUCE_LEGALIZE } from '../legalize/reduce.js';
import { CORE_OPS } from './core.js';
import { CREATE_OPS } from './create.js';
import { ELEMWISE_OPS } from './elemwise.js';
import { INDEX_OPS } from './index-ops.js';
import { LINALG_OPS } from './linalg.js';
import { MANIP_OPS } from './manip.js';
import { NN_OPS } from './nn.js';
import { REDUCE_OPS } from './reduce.js';
import type { OpDef } from './registry.js';
import { OpRegistry } from './registry.js';

/** Every built-in operator definition. */
export const BUILTIN_OPS: readonly OpDef<unknown>[] = [
  ...CORE_OPS,
  ...ELEMWISE_OPS,
  ...REDUCE_OPS,
  ...LINALG_OPS,
  ...MANIP_OPS,
  ...INDEX_OPS,
  ...CREATE_OPS,
  ...NN_OPS,
];

/** Legalizations of the built-in operators (kept apart from inference: they need the te DSL). */
export const BUILTIN_LEGALIZATIONS: LegalizeTable = {
  ...ELEMWISE_LEGALIZE,
  ...REDUCE_LEGALIZE,
  ...LINALG_LEGALIZE,
  ...NN_LEGALIZE,
  ...MANIP_LEGALIZE,
};

/** Something holding plugin contributions: ir-core's plugin `Registry` (its `ops()`), or a list. */
export type OpSource = readonly OpDef<unknown>[] | { ops(): readonly { readonly name: string }[] };

function isOpDef(x: { readonly name: string }): x is OpDef<unknown> {
  const d = x as Partial<OpDef<unknown>>;
  return typeof d.inferStructInfo === 'function' && typeof d.pattern === 'string';
}

/**
 * A fresh registry holding the built-in operators (with their legalizations), then the
 * operators of `extra`: op definitions, or the `ops` entries of an ir-core plugin
 * registry (entries that are not Relax op definitions are INVALID_ARGUMENT).
 */
export function createOpRegistry(extra: OpSource = []): OpRegistry {
  const r = new OpRegistry();
  for (const d of BUILTIN_OPS) {
    const l = Object.hasOwn(BUILTIN_LEGALIZATIONS, d.name) ? BUILTIN_LEGALIZATIONS[d.name] : undefined;
    r.register(l !== undefined && d.legalize === undefined ? Object.freeze({ ...d, legalize: l }) : d);
  }
  const list = Array.isArray(extra)
    ? (extra as readonly OpDef<unknown>[])
    : (extra as { ops(): readonly { readonly name: string }[] }).ops();
  for (const d of list) {
    if (!isOpDef(d))
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `plugin op '${d.name}' is not a Relax operator definition (use defineOp)`,
      );
    r.register(d);
  }
  return r;
}

/** The names of the built-in operators (a fresh registry's `listOps()`). */
export function listOps(registry?: OpRegistry): string[] {
  return (registry ?? createOpRegistry()).listOps();
}
