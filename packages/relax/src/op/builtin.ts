// The built-in operator set and `createOpRegistry()`, which returns a fresh registry
// (one per compiler instance) preloaded with them and their legalizations.
import { CORE_OPS } from './core.js';
import { ELEMWISE_OPS } from './elemwise.js';
import type { OpDef } from './registry.js';
import { OpRegistry } from './registry.js';

/** Every built-in operator definition. */
export const BUILTIN_OPS: readonly OpDef<unknown>[] = [...CORE_OPS, ...ELEMWISE_OPS];

/** A fresh registry holding the built-in operators; extra definitions are added after them. */
export function createOpRegistry(extra: readonly OpDef<unknown>[] = []): OpRegistry {
  const r = new OpRegistry();
  for (const d of BUILTIN_OPS) r.register(d);
  for (const d of extra) r.register(d);
  return r;
}

/** The names of the built-in operators (a fresh registry's `listOps()`). */
export function listOps(registry?: OpRegistry): string[] {
  return (registry ?? createOpRegistry()).listOps();
}
