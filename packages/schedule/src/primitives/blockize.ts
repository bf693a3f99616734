// blockize wraps the loop nest under a loop into an outer block whose iteration space is
// the part of the inner block's bindings owned by outer loops; tensorize matches such a
// nest against a tensor intrinsic's description and swaps in its implementation.
import type { Buffer, Node, PrimExpr, Range, Var } from '@kiln/ir-core';
import {
  add,
  and,
  boolImm,
  DType,
  freezeNode,
  intImm,
  isConstInt,
  Mutator,
  mul,
  nodeKindInfo,
  primVar,
  range,
  structuralEqual,
  substitute,
} from '@kiln/ir-core';
import type { Block, BlockRealize, BufferRegion, For, IterVar, PrimFunc, Stmt } from '@kiln/tensorir';
import { block, blockRealize, bufferRegion } from '@kiln/tensorir';
import type { Interval, Lin } from '../arith.js';
import { bounds, fromLin, linEqual, linearize, linSub, simplifyIndex, usesAnyVar } from '../arith.js';
import { ScheduleErrorCodes as C, fail } from '../errors.js';
import type { TensorIntrin } from '../intrin.js';
import { sweepRegion } from '../regions.js';
import {
  replaceStmt,
  TreeIndex,
  transformStmt,
  uniqueBlockName,
  usedVars as usedVarsIn,
  withBody,
} from '../tree.js';

function conjunctsOf(p: PrimExpr): PrimExpr[] {
  if (p.kind === 'And') return [...conjunctsOf(p.a), ...conjunctsOf(p.b)];
  return isConstInt(p, 1) ? [] : [p];
}

/** The loops from `top` down to the single block realize they hold, or undefined if not a perfect nest. */
export function perfectNest(top: Stmt): { loops: For[]; realize: BlockRealize } | undefined {
  const loops: For[] = [];
  let s = top;
  while (s.kind === 'For') {
    loops.push(s);
    s = s.body;
  }
  return s.kind === 'BlockRealize' ? { loops, realize: s } : undefined;
}

function constRanges(prim: string, loops: readonly For[]): Map<Var, Interval> {
  const m = new Map<Var, Interval>();
  for (const l of loops) {
    if (l.min.kind !== 'IntImm' || l.extent.kind !== 'IntImm')
      fail(C.SCHEDULE_ERROR, prim, `loop '${l.loopVar.name}' has a symbolic range`);
    m.set(l.loopVar, [l.min.value, l.min.value + l.extent.value - 1]);
  }
  return m;
}

/** Wrap the perfect nest under `loop` into a new outer block; returns its name. */
export function blockize(fn: PrimFunc, loop: For): { fn: PrimFunc; block: string } {
  const prim = 'blockize';
  const nest = perfectNest(loop);
  if (!nest)
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `loop '${loop.loopVar.name}' does not hold a perfect loop nest over a single block`,
    );
  const { loops, realize: r } = nest;
  const ranges = constRanges(prim, loops);
  const innerVars = new Set(ranges.keys());
  const blk = r.block;
  const outerIvs: { var: Var; dom: Range; type: IterVar['iterType'] }[] = [];
  const outerVals: PrimExpr[] = [];
  const innerVals: PrimExpr[] = [];
  blk.iterVars.forEach((iv, i) => {
    const e = simplifyIndex(r.iterValues[i]);
    const lin = linearize(e);
    const inT = new Map<string, { atom: PrimExpr; coeff: number }>();
    const outT = new Map<string, { atom: PrimExpr; coeff: number }>();
    for (const [k, t] of lin.terms) {
      if (t.atom.kind === 'Var' && innerVars.has(t.atom)) inT.set(k, { ...t });
      else if (usesAnyVar(t.atom, innerVars))
        fail(
          C.SCHEDULE_ERROR,
          prim,
          `binding of '${iv.var.name}' in block '${blk.name}' is not affine in the loops under '${loop.loopVar.name}'`,
        );
      else outT.set(k, { ...t });
    }
    const dt = iv.var.dtype;
    if (inT.size === 0) {
      if (outT.size === 0) {
        innerVals.push(e);
        return;
      }
      const vo = primVar(`${iv.var.name}_o`, dt);
      outerIvs.push({ var: vo, dom: iv.dom, type: iv.iterType });
      outerVals.push(e);
      innerVals.push(vo);
      return;
    }
    const innerPart = fromLin({ terms: inT, c: 0 }, dt);
    if (outT.size === 0 && lin.c === 0) {
      innerVals.push(innerPart);
      return;
    }
    const b = bounds(innerPart, ranges)!;
    const k = b[1] + 1;
    const divisible = b[0] === 0 && [...outT.values()].every((t) => t.coeff % k === 0) && lin.c % k === 0;
    const domOk =
      isConstInt(iv.dom.min, 0) && iv.dom.extent.kind === 'IntImm' && iv.dom.extent.value % k === 0;
    if (!divisible || !domOk) {
      fail(
        C.SCHEDULE_ERROR,
        prim,
        `binding of '${iv.var.name}' in block '${blk.name}' does not divide into outer and inner parts at loop '${loop.loopVar.name}'`,
      );
    }
    const q = new Map<string, { atom: PrimExpr; coeff: number }>();
    for (const [key, t] of outT) q.set(key, { atom: t.atom, coeff: t.coeff / k });
    const vo = primVar(`${iv.var.name}_o`, dt);
    outerIvs.push({
      var: vo,
      dom: range(intImm(0, dt), intImm((iv.dom.extent as { value: number }).value / k, dt)),
      type: iv.iterType,
    });
    outerVals.push(fromLin({ terms: q, c: lin.c / k }, dt));
    innerVals.push(simplifyIndex(add(mul(vo, intImm(k, dt)), innerPart)));
  });
  // Predicate conjuncts over outer loops guard the whole outer block; mixed ones cannot be split.
  let innerPred: PrimExpr | undefined;
  let outerPred: PrimExpr | undefined;
  const outerLoopVars = (e: PrimExpr): boolean => [...usedVarsIn(e)].some((v) => !innerVars.has(v));
  for (const c of conjunctsOf(r.predicate)) {
    const inn = usesAnyVar(c, innerVars);
    const out = outerLoopVars(c);
    if (inn && out)
      fail(
        C.SCHEDULE_ERROR,
        prim,
        `the predicate of block '${blk.name}' couples loops inside and outside '${loop.loopVar.name}'`,
      );
    if (out) outerPred = outerPred === undefined ? c : and(outerPred, c);
    else innerPred = innerPred === undefined ? c : and(innerPred, c);
  }
  const innerRealize = freezeNode({
    ...r,
    iterValues: Object.freeze(innerVals),
    predicate: innerPred ?? boolImm(true),
  });
  const innerNest = replaceStmt(loop, r, innerRealize);
  // Regions of the outer block: the inner block's regions with the inner loops swept.
  const bind = new Map<Node, Node>(blk.iterVars.map((iv, i) => [iv.var, innerVals[i]]));
  const sweep = (rgs: readonly BufferRegion[]): BufferRegion[] =>
    rgs.map((rg) => sweepRegion(substitute(rg, bind), ranges));
  const name = uniqueBlockName(fn.body, `${blk.name}_o`);
  const outer = block(name, innerNest, {
    iterVars: outerIvs.map((o) =>
      freezeNode({ kind: 'IterVar' as const, var: o.var, dom: o.dom, iterType: o.type }),
    ),
    reads: sweep(blk.reads),
    writes: sweep(blk.writes),
  });
  const outerRealize = blockRealize(outerVals, outerPred ?? true, outer);
  return { fn: withBody(fn, replaceStmt(fn.body, loop, outerRealize)), block: name };
}

/** Matches a description's block body against a scheduled one, mapping buffers and index offsets. */
class IntrinMatcher {
  readonly bufMap = new Map<Buffer, Buffer>();
  readonly offsets = new Map<Buffer, Lin[]>();
  constructor(private readonly innerVars: ReadonlySet<Var>) {}

  private access(bd: Buffer, ba: Buffer, di: PrimExpr[], ai: readonly PrimExpr[]): boolean {
    const prev = this.bufMap.get(bd);
    if (prev !== undefined && prev !== ba) return false;
    if (bd.dtype !== ba.dtype || di.length > ai.length) return false;
    this.bufMap.set(bd, ba);
    // A lower-rank description buffer views the trailing dimensions of the actual one.
    di = [...ai.slice(0, ai.length - di.length).map(() => intImm(0)), ...di];
    const offs = di.map((d, k) => linSub(linearize(simplifyIndex(ai[k])), linearize(simplifyIndex(d))));
    if (offs.some((o) => [...o.terms.values()].some((t) => usesAnyVar(t.atom, this.innerVars)))) return false;
    const known = this.offsets.get(bd);
    if (known) return known.every((o, k) => linEqual(o, offs[k]));
    this.offsets.set(bd, offs);
    return true;
  }

  match(d: Node, a: Node): boolean {
    if (d.kind !== a.kind) return false;
    if (d.kind === 'BufferLoad' || d.kind === 'BufferStore') {
      const x = d as unknown as { buffer: Buffer; indices: readonly PrimExpr[]; value?: PrimExpr };
      const y = a as unknown as { buffer: Buffer; indices: readonly PrimExpr[]; value?: PrimExpr };
      if (!this.access(x.buffer, y.buffer, [...x.indices], y.indices)) return false;
      return x.value === undefined || this.match(x.value, y.value!);
    }
    if (d.kind === 'Var') return d === a;
    const rd = d as unknown as Record<string, unknown>;
    const ra = a as unknown as Record<string, unknown>;
    for (const f of nodeKindInfo(d.kind).fields) {
      const x = rd[f.name];
      const y = ra[f.name];
      switch (f.type) {
        case 'ignore':
          break;
        case 'value':
          if (!structuralEqual(x, y)) return false;
          break;
        case 'node':
        case 'binder':
          if (!this.match(x as Node, y as Node)) return false;
          break;
        case 'node?':
          if ((x == null) !== (y == null)) return false;
          if (x != null && !this.match(x as Node, y as Node)) return false;
          break;
        default: {
          const xs = x as readonly Node[];
          const ys = y as readonly Node[];
          if (xs.length !== ys.length || !xs.every((c, i) => this.match(c, ys[i]))) return false;
        }
      }
    }
    return true;
  }
}

function descNest(intrin: TensorIntrin, which: 'desc' | 'impl'): { body: Stmt; allocs: readonly Buffer[] } {
  const f = intrin[which];
  if (f.body.kind === 'BlockRealize' && f.body.block.iterVars.length === 0)
    return { body: f.body.block.body, allocs: f.body.block.allocBuffers };
  return { body: f.body, allocs: [] };
}

/** Replace the body of outer block `o` (a perfect nest over one block) with `intrin`'s implementation. */
export function tensorizeBlock(fn: PrimFunc, o: BlockRealize, intrin: TensorIntrin): PrimFunc {
  const prim = 'tensorize';
  const name = intrin.name;
  const mismatch = (why: string): never =>
    fail(
      C.SCHEDULE_TENSORIZE_MISMATCH,
      prim,
      `block '${o.block.name}' does not match intrinsic '${name}': ${why}`,
    );
  const nest = perfectNest(o.block.body);
  if (!nest) return mismatch('its body is not a perfect loop nest over one block');
  const d = descNest(intrin, 'desc');
  const dn = perfectNest(d.body);
  if (!dn) return mismatch('the description is not a perfect loop nest over one block');
  if (dn.loops.length !== nest.loops.length)
    return mismatch(`${nest.loops.length} loops against ${dn.loops.length} in the description`);
  const loopMap = new Map<Node, Node>();
  for (let i = 0; i < dn.loops.length; i++) {
    const x = dn.loops[i];
    const y = nest.loops[i];
    if (
      !isConstInt(x.min, 0) ||
      !isConstInt(y.min, 0) ||
      x.extent.kind !== 'IntImm' ||
      y.extent.kind !== 'IntImm' ||
      x.extent.value !== y.extent.value
    ) {
      return mismatch(
        `loop ${i} has extent ${y.extent.kind === 'IntImm' ? y.extent.value : '?'} where the description has ${x.extent.kind === 'IntImm' ? x.extent.value : '?'}`,
      );
    }
    loopMap.set(x.loopVar, y.loopVar);
  }
  const bindOf = (r: BlockRealize, extra: ReadonlyMap<Node, Node>): Map<Node, Node> =>
    new Map<Node, Node>(r.block.iterVars.map((iv, i) => [iv.var, substitute(r.iterValues[i], extra)]));
  const dMap = bindOf(dn.realize, loopMap);
  const aMap = bindOf(nest.realize, new Map());
  const m = new IntrinMatcher(new Set(nest.loops.map((l) => l.loopVar)));
  const da = dn.realize.block;
  const aa = nest.realize.block;
  if ((da.init === undefined) !== (aa.init === undefined))
    return mismatch(
      da.init ? 'the description has an init' : 'the block still has an init (decompose the reduction first)',
    );
  if (!m.match(substitute(da.body, dMap), substitute(aa.body, aMap)))
    return mismatch('the computations differ');
  if (da.init && aa.init && !m.match(substitute(da.init, dMap), substitute(aa.init, aMap)))
    return mismatch('the inits differ');
  const descParams = intrin.desc.params.filter((p): p is Buffer => p.kind === 'Buffer');
  const implParams = intrin.impl.params.filter((p): p is Buffer => p.kind === 'Buffer');
  if (descParams.length !== implParams.length)
    return mismatch('description and implementation take different buffers');
  const implMap = new Map<Buffer, { buf: Buffer; off: PrimExpr[] }>();
  descParams.forEach((p, i) => {
    const actual = m.bufMap.get(p);
    if (!actual) return;
    const off = m.offsets.get(p)!.map((l) => fromLin(l, DType.int64));
    implMap.set(implParams[i], { buf: actual, off });
  });
  const shift = (b: Buffer, idx: readonly PrimExpr[]): PrimExpr[] => {
    const t = implMap.get(b)!;
    const full = [...t.off.slice(0, t.off.length - idx.length).map(() => intImm(0)), ...idx];
    return full.map((e, k) => simplifyIndex(add(t.off[k], e)));
  };
  class Rebase extends Mutator {
    protected override visitNode(n: Node): Node {
      const v = this.defaultVisit(n);
      if (v.kind === 'BufferLoad' || v.kind === 'BufferStore') {
        const x = v as unknown as { buffer: Buffer; indices: readonly PrimExpr[] };
        if (implMap.has(x.buffer))
          return freezeNode({
            ...(v as object),
            buffer: implMap.get(x.buffer)!.buf,
            indices: Object.freeze(shift(x.buffer, x.indices)),
          } as unknown as Node);
      }
      if (v.kind === 'BufferRegion') {
        const x = v as unknown as BufferRegion;
        if (implMap.has(x.buffer)) {
          const t = implMap.get(x.buffer)!;
          const lead = t.off.length - x.region.length;
          const full = [...t.off.slice(0, lead).map(() => range(intImm(0), intImm(1))), ...x.region];
          return bufferRegion(
            t.buf,
            full.map((r, k) => range(simplifyIndex(add(t.off[k], r.min)), r.extent)),
          );
        }
      }
      return v;
    }
  }
  const impl = descNest(intrin, 'impl');
  // Blocks of the implementation get names unique in the function (an intrinsic may be used twice).
  const taken = new Set<string>();
  const rename = (s: Stmt): Stmt | null | undefined => {
    if (s.kind !== 'Block') return undefined;
    const nm = uniqueBlockName(fn.body, s.name, taken);
    taken.add(nm);
    const inner = transformStmt(s.body, rename) ?? s.body;
    return nm === s.name && inner === s.body ? s : freezeNode({ ...s, name: nm, body: inner });
  };
  const body = transformStmt(new Rebase().visit(impl.body), rename)!;

  const blk: Block = freezeNode({
    ...o.block,
    body,
    allocBuffers: Object.freeze([...o.block.allocBuffers, ...impl.allocs]),
    annotations: Object.freeze({ ...o.block.annotations, 'kiln.tensorized': name }),
  });
  return withBody(fn, replaceStmt(fn.body, o.block, blk));
}

/** tensorize(loop): blockize the loop, then tensorize the new outer block. */
export function tensorizeLoop(fn: PrimFunc, loop: For, intrin: TensorIntrin): PrimFunc {
  const b = blockize(fn, loop);
  const idx = new TreeIndex(b.fn.body);
  return tensorizeBlock(b.fn, idx.blocks.get(b.block)!, intrin);
}
