// relax.StaticPlanBlockMemory: places the tensors that `builtin.alloc_tensor` creates
// inside shared storage when their lifetimes do not overlap.
// Requires: explicit_alloc (CallTIRRewrite ran). Establishes: memory_planned.
// Only tensors that do not escape (are not returned, directly or through tuples and
// aliases, nor passed to a Relax function that might keep them) are planned. Storage is
// untyped bytes: a freed token is reused best-fit for a static size (growing the token if
// needed), and only for an identical byte expression when sizes are symbolic.
// The function gets an attribute `kiln.memory_plan` with the bytes before and after.
import type { Node, PrimExpr } from '@kiln/ir-core';
import {
  bytesOf,
  definePass,
  intImm,
  mapFunctions,
  mul,
  dtype as parseDType,
  simplify,
  structuralEqual,
} from '@kiln/ir-core';
import { bindingBlock, relaxVar, seqExpr, varBinding } from '../ir/expr.js';
import type { AnyVar, Binding, Block, Call, Expr, RelaxFunction, SeqExpr, ShapeExpr } from '../ir/nodes.js';
import { objectSInfo } from '../ir/struct-info.js';
import { allocStorage, memAllocTensor } from './ops.js';

export interface MemoryPlanReport {
  /** Bytes of the planned allocations if each had its own storage (static sizes only). */
  bytesBefore: number;
  /** Bytes of the storage tokens after planning (static sizes only). */
  bytesAfter: number;
  /** Allocations with a symbolic size, before and after planning. */
  symbolicBefore: number;
  symbolicAfter: number;
  /** Allocations that escape and were left alone. */
  escaping: number;
}

function isAlloc(e: Expr): e is Call {
  return e.kind === 'relax.Call' && e.op.kind === 'relax.Op' && e.op.name === 'relax.builtin.alloc_tensor';
}

/** Every relax var used by `e` (not descending into nested functions). */
function usedVars(e: Expr, out: Set<AnyVar>): void {
  switch (e.kind) {
    case 'relax.Var':
    case 'relax.DataflowVar':
      out.add(e);
      return;
    case 'relax.Tuple':
      for (const f of e.fields) usedVars(f, out);
      return;
    case 'relax.TupleGetItem':
      usedVars(e.tuple, out);
      return;
    case 'relax.Call':
      if (e.op.kind === 'relax.Var' || e.op.kind === 'relax.DataflowVar') out.add(e.op);
      for (const a of e.args) usedVars(a, out);
      return;
    case 'relax.If':
      usedVars(e.cond, out);
      usedVars(e.trueBranch, out);
      usedVars(e.falseBranch, out);
      return;
    case 'relax.SeqExpr':
      for (const b of e.blocks) for (const bd of b.bindings) usedVars(bd.value, out);
      usedVars(e.body, out);
      return;
    default:
      return;
  }
}

interface Token {
  storage: AnyVar;
  /** Static size in bytes, or the symbolic byte expression. */
  size: number | PrimExpr;
  firstUser: number;
  free: boolean;
}

function planSeq(seq: SeqExpr, report: MemoryPlanReport, escapingRoots: Set<AnyVar>): SeqExpr {
  const bindings: Binding[] = seq.blocks.flatMap((b) => [...b.bindings]);
  // Alias groups: a var bound to a var, tuple, or tuple item shares its sources' storage.
  const parent = new Map<AnyVar, AnyVar>();
  const find = (v: AnyVar): AnyVar => {
    let r = v;
    while (parent.has(r)) r = parent.get(r)!;
    return r;
  };
  const union = (a: AnyVar, b: AnyVar) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  const escapes = new Set<AnyVar>();
  const lastUse = new Map<AnyVar, number>();
  bindings.forEach((b, i) => {
    const used = new Set<AnyVar>();
    usedVars(b.value, used);
    for (const u of used) lastUse.set(u, i);
    const v = b.value;
    if (
      v.kind === 'relax.Var' ||
      v.kind === 'relax.DataflowVar' ||
      v.kind === 'relax.Tuple' ||
      v.kind === 'relax.TupleGetItem' ||
      b.kind === 'relax.MatchCast'
    ) {
      for (const u of used) union(b.var, u);
    }
    // Values passed to a non-kernel callee may be kept by it: they escape.
    if (v.kind === 'relax.Call') {
      const kernelCall =
        v.op.kind === 'relax.GlobalVar' || v.op.kind === 'relax.ExternFunc' || v.op.kind === 'relax.Op';
      if (!kernelCall || (v.op.kind === 'relax.Op' && v.op.name === 'relax.reshape')) {
        for (const u of used) escapes.add(u);
        if (v.op.kind === 'relax.Op') for (const u of used) union(b.var, u);
      }
    }
    if (v.kind === 'relax.If' || v.kind === 'relax.SeqExpr') for (const u of used) escapes.add(u);
  });
  const bodyUsed = new Set<AnyVar>();
  usedVars(seq.body, bodyUsed);
  for (const u of bodyUsed) escapes.add(u);
  for (const r of escapingRoots) escapes.add(r);
  const escapingGroups = new Set<AnyVar>([...escapes].map(find));
  const groupLast = new Map<AnyVar, number>();
  for (const [v, i] of lastUse) {
    const g = find(v);
    groupLast.set(g, Math.max(groupLast.get(g) ?? -1, i));
  }

  const tokens: Token[] = [];
  const assignment = new Map<number, Token>();
  const releaseAt = new Map<number, Token[]>();
  let counter = 0;
  bindings.forEach((b, i) => {
    for (const t of releaseAt.get(i - 1) ?? []) t.free = true;
    if (!isAlloc(b.value)) return;
    const g = find(b.var);
    if (escapingGroups.has(g)) {
      report.escaping++;
      return;
    }
    const shape = b.value.args[0] as ShapeExpr;
    const dt = parseDType(String((b.value.attrs as { dtype: string }).dtype));
    let bytes: PrimExpr = intImm(bytesOf(dt), 'int64');
    for (const d of shape.values) bytes = mul(bytes, d);
    bytes = simplify(bytes);
    const staticSize = bytes.kind === 'IntImm' ? bytes.value : undefined;
    let tok: Token | undefined;
    if (staticSize !== undefined) {
      report.bytesBefore += staticSize;
      const free = tokens.filter((t) => t.free && typeof t.size === 'number');
      const fit = free
        .filter((t) => (t.size as number) >= staticSize)
        .sort((a, b2) => (a.size as number) - (b2.size as number))[0];
      tok = fit ?? free.sort((a, b2) => (b2.size as number) - (a.size as number))[0];
      if (tok) tok.size = Math.max(tok.size as number, staticSize);
    } else {
      report.symbolicBefore++;
      tok = tokens.find((t) => t.free && typeof t.size !== 'number' && structuralEqual(t.size, bytes));
    }
    if (!tok) {
      tok = {
        storage: relaxVar(`storage${counter++}`, objectSInfo()),
        size: staticSize ?? bytes,
        firstUser: i,
        free: false,
      };
      tokens.push(tok);
    }
    tok.free = false;
    assignment.set(i, tok);
    const last = groupLast.get(g) ?? i;
    const list = releaseAt.get(last) ?? [];
    list.push(tok);
    releaseAt.set(last, list);
  });
  for (const t of tokens) {
    if (typeof t.size === 'number') report.bytesAfter += t.size;
    else report.symbolicAfter++;
  }
  if (assignment.size === 0) return seq;

  // Rebuild the blocks: storage allocated right before its first user.
  const byFirst = new Map<number, Token[]>();
  for (const t of tokens) byFirst.set(t.firstUser, [...(byFirst.get(t.firstUser) ?? []), t]);
  let idx = 0;
  const blocks: Block[] = seq.blocks.map((blk) => {
    const out: Binding[] = [];
    for (const b of blk.bindings) {
      for (const t of byFirst.get(idx) ?? []) out.push(varBinding(t.storage, allocStorage(t.size)));
      const tok = assignment.get(idx);
      if (tok && isAlloc(b.value)) {
        const dt = String((b.value.attrs as { dtype: string }).dtype);
        out.push(varBinding(b.var, memAllocTensor(tok.storage, 0, b.value.args[0] as ShapeExpr, dt)));
      } else out.push(b);
      idx++;
    }
    return bindingBlock(out);
  });
  return seqExpr(blocks, seq.body);
}

/** Plan one function; returns it with `kiln.memory_plan` set (identity when nothing to plan). */
export function planFunctionMemory(fn: RelaxFunction): { fn: RelaxFunction; report: MemoryPlanReport } {
  const report: MemoryPlanReport = {
    bytesBefore: 0,
    bytesAfter: 0,
    symbolicBefore: 0,
    symbolicAfter: 0,
    escaping: 0,
  };
  if (fn.body.kind !== 'relax.SeqExpr') return { fn, report };
  const body = planSeq(fn.body, report, new Set());
  const attrs = { ...fn.attrs, 'kiln.memory_plan': { ...report } };
  return { fn: Object.freeze({ ...fn, body, attrs }) as RelaxFunction, report };
}

export const StaticPlanBlockMemory = definePass({
  name: 'relax.StaticPlanBlockMemory',
  kind: 'module',
  requires: ['explicit_alloc'],
  establishes: ['memory_planned'],
  run(mod) {
    return mapFunctions(
      mod,
      (f) => planFunctionMemory(f as unknown as RelaxFunction).fn as unknown as Node,
      'relax.Function',
    );
  },
});

/** The plan report recorded on a function by StaticPlanBlockMemory, if any. */
export function memoryPlanOf(fn: RelaxFunction): MemoryPlanReport | undefined {
  return fn.attrs['kiln.memory_plan'] as unknown as MemoryPlanReport | undefined;
}
