// relax.PrepackWeights: run at compile time the part of a scheduled kernel that only
// rearranges a constant argument. The default CPU schedule copies a matmul's weights into
// [N/P, K, P] panels at the start of the kernel (and pads a filter into a padded copy);
// when every call of that kernel passes a constant there, the copy is the same on every
// run. This pass lifts such parameter stages out of the kernel (tensorir's
// liftParamStages), evaluates them once on each constant with the TIR interpreter, and
// passes the rearranged constant instead — TVM's SplitLayoutRewritePreproc followed by
// constant folding. The kernel then reads the packed weights directly; values, and so
// results, are unchanged.
// Requires: call_tir form (before relax.CallTIRRewrite), kernels already scheduled
// (tir.DefaultCPUSchedule); a kernel without a parameter stage is left as it is.
import type { DataType, IRModule } from '@kiln/ir-core';
import { definePass, isKilnError, moduleEntries, withFunction } from '@kiln/ir-core';
import type { Binding, Block, Constant, Expr, RelaxFunction } from '@kiln/relax';
import { constant, tuple } from '@kiln/relax';
import type { NDArray, PrimFunc } from '@kiln/tensorir';
import { interpret, liftParamStages, ndarray } from '@kiln/tensorir';
import { callTIRParts, mapFunctionBlocks, primFuncOf } from './util.js';

/** Element types the interpreter moves exactly (sub-byte and 8-bit float storage is left alone). */
function movable(dt: DataType): boolean {
  return (
    (dt.code === 'float' || dt.code === 'int' || dt.code === 'uint' || dt.code === 'bfloat') && dt.bits >= 8
  );
}

interface Site {
  readonly binding: Binding;
  readonly original: readonly Expr[];
  /** The call's arguments, with variables bound to constants replaced by the constants. */
  readonly args: readonly Expr[];
}

/** Every call_tir binding of every Relax function, grouped by kernel. */
function callSites(mod: IRModule): Map<string, Site[]> {
  const sites = new Map<string, Site[]>();
  for (const [, f] of moduleEntries(mod)) {
    if (f.kind !== 'relax.Function') continue;
    const known = new Map<Expr, Constant>();
    mapFunctionBlocks(f as unknown as RelaxFunction, (blk) => {
      for (const b of blk.bindings) {
        if (b.kind !== 'relax.VarBinding') continue;
        if (b.value.kind === 'relax.Constant') known.set(b.var, b.value);
        const parts = callTIRParts(b.value);
        if (!parts) continue;
        const list = sites.get(parts.callee.name) ?? [];
        list.push({ binding: b, original: parts.args, args: parts.args.map((a) => known.get(a) ?? a) });
        sites.set(parts.callee.name, list);
      }
      return blk;
    });
  }
  return sites;
}

/** Run a lifted stage `(P, X)` on one constant. */
function evaluateStage(stage: PrimFunc, c: Constant): Constant {
  const [, dst] = stage.params as readonly { dtype: DataType; shape: readonly { value?: number }[] }[];
  const src: NDArray = Object.freeze({ dtype: c.dtype, shape: c.shape, data: c.data });
  const out = ndarray(
    dst.dtype,
    dst.shape.map((e) => Number(e.value)),
  );
  interpret(stage, [src, out]);
  return constant(out.data, out.shape, out.dtype);
}

/** The rewrite of one kernel: its new PrimFunc and, per call binding, the new arguments. */
function prepackKernel(
  fn: PrimFunc,
  sites: readonly Site[],
): { fn: PrimFunc; args: Map<Binding, Expr[]> } | undefined {
  const isConst = (e: Expr | undefined): e is Constant => e?.kind === 'relax.Constant' && movable(e.dtype);
  const lifted = liftParamStages(fn, (i) => sites.every((s) => isConst(s.args[i])));
  if (lifted.stages.length === 0) return undefined;
  const args = new Map<Binding, Expr[]>();
  // One evaluation per distinct constant and stage (repeated layers share a kernel, and a
  // constant may feed several calls).
  const memo = new Map<PrimFunc, Map<Constant, Constant>>();
  try {
    for (const s of sites) {
      const cur = [...s.original];
      for (const st of lifted.stages) {
        const prev = cur[st.param];
        const c = (prev.kind === 'relax.Constant' ? prev : s.args[st.param]) as Constant;
        const m = memo.get(st.transform) ?? new Map<Constant, Constant>();
        memo.set(st.transform, m);
        const packed = m.get(c) ?? evaluateStage(st.transform, c);
        m.set(c, packed);
        cur[st.param] = packed;
      }
      args.set(s.binding, cur);
    }
  } catch (e) {
    // A stage the interpreter cannot run leaves the kernel as scheduled.
    if (isKilnError(e)) return undefined;
    throw e;
  }
  return { fn: lifted.fn, args };
}

/** Lift and evaluate the constant parameter stages of every kernel of `mod`. */
export function prepackWeights(mod: IRModule): IRModule {
  const rewrites = new Map<Binding, Expr[]>();
  let out = mod;
  for (const [name, sites] of callSites(mod)) {
    const fn = primFuncOf(mod, name);
    if (!fn) continue;
    const r = prepackKernel(fn, sites);
    if (!r) continue;
    out = withFunction(out, name, r.fn as unknown as (typeof mod.funcs)[number]);
    for (const [b, a] of r.args) rewrites.set(b, a);
  }
  if (rewrites.size === 0) return mod;
  const rewriteBlock = (blk: Block): Block => {
    let changed = false;
    const bindings = blk.bindings.map((b) => {
      const args = rewrites.get(b);
      if (!args || b.kind !== 'relax.VarBinding' || b.value.kind !== 'relax.Call') return b;
      changed = true;
      const c = b.value;
      const packed = c.args[1].kind === 'relax.Tuple' ? tuple(args) : args[0];
      const value = Object.freeze({ ...c, args: Object.freeze([c.args[0], packed, ...c.args.slice(2)]) });
      return Object.freeze({ ...b, value });
    });
    return changed ? (Object.freeze({ ...blk, bindings: Object.freeze(bindings) }) as Block) : blk;
  };
  for (const [name, f] of moduleEntries(out)) {
    if (f.kind !== 'relax.Function') continue;
    const nf = mapFunctionBlocks(f as unknown as RelaxFunction, rewriteBlock);
    if (nf !== (f as unknown)) out = withFunction(out, name, nf as unknown as (typeof mod.funcs)[number]);
  }
  return out;
}

/** The PrimFunc attribute listing the parameters every call passes a constant (TVM's name). */
export const LAYOUT_FREE_ATTR = 'layout_free_buffers';

/**
 * Mark on each kernel the parameters that every call passes a constant: a schedule may
 * then choose any layout for them (relax.PrepackWeights makes it free), e.g. pack a
 * matmul's weights into panels even for a single row.
 */
export function attachLayoutFreeBuffers(mod: IRModule): IRModule {
  let out = mod;
  for (const [name, sites] of callSites(mod)) {
    const fn = primFuncOf(mod, name);
    if (!fn) continue;
    const free = fn.params
      .map((_, i) => i)
      .filter((i) =>
        sites.every((s) => s.args[i]?.kind === 'relax.Constant' && movable((s.args[i] as Constant).dtype)),
      );
    const cur = fn.attrs[LAYOUT_FREE_ATTR];
    if (free.length === 0 && cur === undefined) continue;
    if (Array.isArray(cur) && cur.length === free.length && cur.every((x, i) => x === free[i])) continue;
    const nf = Object.freeze({ ...fn, attrs: Object.freeze({ ...fn.attrs, [LAYOUT_FREE_ATTR]: free }) });
    out = withFunction(out, name, nf as unknown as (typeof mod.funcs)[number]);
  }
  return out;
}

export const AttachLayoutFreeBuffers = definePass({
  name: 'relax.AttachLayoutFreeBuffers',
  kind: 'module',
  optLevel: 1,
  run: (mod) => attachLayoutFreeBuffers(mod),
});

export const PrepackWeights = definePass({
  name: 'relax.PrepackWeights',
  kind: 'module',
  optLevel: 1,
  run: (mod) => prepackWeights(mod),
});
