// The kernel calling convention shared by every code generator and by the VM lowering:
// a compiled PrimFunc takes its params in order (a Buffer as a pointer to its first
// element, a scalar Var by value), then one int64 per symbolic shape variable that
// appears in a param buffer's shape without being a param itself, in order of first
// appearance. Callers supply those from the actual tensors' shapes.
import type { Var } from '@kiln/ir-core';
import type { PrimFunc } from './stmt.js';

export type KernelABIArg =
  | {
      readonly kind: 'buffer';
      readonly param: number;
      readonly name: string;
      readonly dtype: string;
      readonly ndim: number;
    }
  | { readonly kind: 'scalar'; readonly param: number; readonly name: string; readonly dtype: string }
  | {
      readonly kind: 'dim';
      readonly name: string;
      readonly param: number;
      readonly dim: number;
      readonly var: Var;
    };

/** The arguments of `fn`'s compiled kernel, in call order. */
export function kernelABI(fn: PrimFunc): KernelABIArg[] {
  const out: KernelABIArg[] = [];
  const paramVars = new Set<Var>();
  for (const p of fn.params) if (p.kind === 'Var') paramVars.add(p);
  fn.params.forEach((p, i) => {
    if (p.kind === 'Buffer')
      out.push({ kind: 'buffer', param: i, name: p.name, dtype: p.dtype.str, ndim: p.shape.length });
    else out.push({ kind: 'scalar', param: i, name: p.name, dtype: p.dtype.str });
  });
  const seen = new Set<Var>();
  fn.params.forEach((p, i) => {
    if (p.kind !== 'Buffer') return;
    p.shape.forEach((d, dim) => {
      if (d.kind === 'Var' && !paramVars.has(d) && !seen.has(d)) {
        seen.add(d);
        out.push({ kind: 'dim', name: d.name, param: i, dim, var: d });
      }
    });
  });
  return out;
}
