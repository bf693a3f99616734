// Reduction primitives: decomposeReduction splits a block's init out into its own block
// in front of a loop; rfactor turns one reduction loop into a spatial dimension of a new
// intermediate buffer, so that loop can run in parallel, followed by a write-back block.
import type { Buffer, Node, PrimExpr, Var } from '@kiln/ir-core';
import {
  binary,
  buffer,
  bufferLoad,
  evaluate,
  freezeNode,
  isConstInt,
  primVar,
  range,
  structuralEqual,
  substitute,
} from '@kiln/ir-core';
import type { Block, BlockRealize, BufferStore, For, PrimFunc, Stmt } from '@kiln/tensorir';
import { block, blockRealize, bufferStore, forLoop, iterVar, seqStmt } from '@kiln/tensorir';
import { linearize } from '../arith.js';
import { ScheduleErrorCodes as C, fail } from '../errors.js';
import { isWrapper, updateRegions } from '../regions.js';
import {
  allBlocks,
  requireRootScope,
  TreeIndex,
  transformStmt,
  uniqueBlockName,
  usedVars,
  withBody,
} from '../tree.js';
import { addPredicate } from './loops.js';

function conjuncts(p: PrimExpr): PrimExpr[] {
  if (p.kind === 'And') return [...conjuncts(p.a), ...conjuncts(p.b)];
  if (isConstInt(p, 1)) return [];
  return [p];
}

/** The conjuncts of `pred` that only use `allowed` variables (or none bound below the scope), remapped. */
function keptPredicate(
  pred: PrimExpr,
  dropVars: ReadonlySet<Var>,
  map: ReadonlyMap<Node, Node>,
): PrimExpr | undefined {
  let out: PrimExpr | undefined;
  for (const c of conjuncts(pred)) {
    if ([...usedVars(c)].some((v) => dropVars.has(v))) continue;
    const m = substitute(c, map);
    out = out === undefined ? m : binary('And', out, m);
  }
  return out;
}

function wrapLoops(loops: readonly For[], fresh: ReadonlyMap<Var, Var>, inner: Stmt): Stmt {
  let s = inner;
  for (let i = loops.length - 1; i >= 0; i--) {
    const l = loops[i];
    s = forLoop(fresh.get(l.loopVar)!, l.min, l.extent, s);
  }
  return s;
}

/** Move `block`'s init into a new block placed right before `loop`; returns its name. */
export function decomposeReduction(
  fn: PrimFunc,
  r: BlockRealize,
  loop: For,
): { fn: PrimFunc; block: string } {
  const prim = 'decomposeReduction';
  const blk = r.block;
  if (!blk.init) fail(C.SCHEDULE_NOT_REDUCTION, prim, `block '${blk.name}' has no init`);
  const idx = new TreeIndex(fn.body);
  requireRootScope(prim, idx, r, (m) => fail(C.SCHEDULE_ERROR, prim, m));
  const loops = idx.loopsAbove(r);
  const at = loops.indexOf(loop);
  if (at < 0)
    fail(C.SCHEDULE_ERROR, prim, `loop '${loop.loopVar.name}' is not a loop of block '${blk.name}'`);
  const redVars = new Set<Var>();
  blk.iterVars.forEach((iv, i) => {
    if (iv.iterType !== 'spatial') for (const v of usedVars(r.iterValues[i])) redVars.add(v);
  });
  for (const l of loops.slice(0, at)) {
    if (redVars.has(l.loopVar)) {
      fail(
        C.SCHEDULE_ERROR,
        prim,
        `loop '${l.loopVar.name}' above '${loop.loopVar.name}' iterates over the reduction of block '${blk.name}'`,
      );
    }
  }
  // The loops from the split point down must visit each iteration point of the block once:
  // a repeat (a loop feeding no iteration variable, or the repeat half of a fused loop)
  // would accumulate on top of the hoisted init.
  if (!visitsOnce(r, loops.slice(0, at), loops.slice(at))) {
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `the loops from '${loop.loopVar.name}' down repeat iterations of block '${blk.name}'; its init cannot move above them`,
    );
  }
  const spatialIdx = blk.iterVars.map((iv, i) => (iv.iterType === 'spatial' ? i : -1)).filter((i) => i >= 0);
  const spVars = new Set<Var>();
  for (const i of spatialIdx) for (const v of usedVars(r.iterValues[i])) spVars.add(v);
  const inner = loops.slice(at);
  const copied = inner.filter((l) => spVars.has(l.loopVar));
  const fresh = new Map<Var, Var>(
    copied.map((l) => [l.loopVar, primVar(`${l.loopVar.name}_init`, l.loopVar.dtype)]),
  );
  const ivMap = new Map<Node, Node>();
  const ivs = spatialIdx.map((i) => {
    const iv = blk.iterVars[i];
    const nv = primVar(`${iv.var.name}_init`, iv.var.dtype);
    ivMap.set(iv.var, nv);
    return iterVar(nv, iv.dom, 'spatial');
  });
  const name = uniqueBlockName(fn.body, `${blk.name}_init`);
  const initBlock = updateRegions(block(name, substitute(blk.init, ivMap), { iterVars: ivs }));
  const values = spatialIdx.map((i) => substitute(r.iterValues[i], fresh as ReadonlyMap<Node, Node>));
  const dropped = new Set(inner.filter((l) => !fresh.has(l.loopVar)).map((l) => l.loopVar));
  const pred = keptPredicate(r.predicate, dropped, fresh as ReadonlyMap<Node, Node>);
  const nest = wrapLoops(copied, fresh, blockRealize(values, pred ?? true, initBlock));
  const noInit = freezeNode({ ...blk, init: undefined });
  const body = transformStmt(fn.body, (s) => {
    if (s !== loop) return undefined;
    const l2 = transformStmt(loop, (x) => (x === blk ? noInit : undefined))!;
    return seqStmt([nest, l2]);
  });
  return { fn: withBody(fn, body!), block: name };
}

/**
 * A sufficient condition for `visitsOnce`, checked without enumerating: every binding is
 * affine with the inner loop variables as plain terms, each inner loop of extent > 1 feeds
 * exactly one binding, and within a binding the loops form a mixed-radix number (sorted by
 * |coefficient|, each coefficient exceeds the largest span of the smaller ones). Then
 * distinct loop points give distinct iteration points. False means "not proven" only.
 */
function mixedRadixInjective(r: BlockRealize, inner: readonly For[]): boolean {
  const extentOf = new Map<Var, number>();
  for (const l of inner) {
    if (l.extent.kind !== 'IntImm') return false;
    extentOf.set(l.loopVar, l.extent.value);
  }
  const owner = new Map<Var, number>();
  const perBinding: { coeff: number; extent: number }[][] = r.iterValues.map(() => []);
  for (let k = 0; k < r.iterValues.length; k++) {
    for (const t of linearize(r.iterValues[k]).terms.values()) {
      if (t.atom.kind !== 'Var') {
        if (inner.some((l) => usedVars(t.atom).has(l.loopVar))) return false;
        continue;
      }
      const e = extentOf.get(t.atom);
      if (e === undefined || e <= 1) continue;
      if (owner.has(t.atom) || t.coeff === 0) return false;
      owner.set(t.atom, k);
      perBinding[k].push({ coeff: Math.abs(t.coeff), extent: e });
    }
  }
  for (const l of inner) if ((extentOf.get(l.loopVar) ?? 0) > 1 && !owner.has(l.loopVar)) return false;
  for (const terms of perBinding) {
    terms.sort((a, b) => a.coeff - b.coeff);
    let span = 0;
    for (const t of terms) {
      if (t.coeff <= span) return false;
      span += t.coeff * (t.extent - 1);
    }
  }
  return true;
}

/** Enumeration budget for the injectivity check of decomposeReduction. */
const MAX_POINTS = 1 << 16;

/**
 * Do the `inner` loops map injectively onto the block's iteration points (outer loops held
 * at their minimum)? Exact by enumeration for small constant nests; otherwise only the
 * plain case (every loop used, bindings affine in the loops) is accepted.
 */
function visitsOnce(r: BlockRealize, outer: readonly For[], inner: readonly For[]): boolean {
  if (mixedRadixInjective(r, inner)) return true;
  const exts = inner.map((l) =>
    l.min.kind === 'IntImm' && l.extent.kind === 'IntImm' ? l.extent.value : undefined,
  );
  const total = exts.reduce<number | undefined>(
    (p, e) => (p === undefined || e === undefined ? undefined : p * e),
    1,
  );
  const env = new Map<Var, number>();
  for (const l of outer) {
    if (l.min.kind !== 'IntImm') return false;
    env.set(l.loopVar, l.min.value);
  }
  if (total !== undefined && total <= MAX_POINTS) {
    const seen = new Set<string>();
    const idx = new Array<number>(inner.length).fill(0);
    for (let n = 0; n < total; n++) {
      let rem = n;
      for (let k = inner.length - 1; k >= 0; k--) {
        idx[k] = rem % exts[k]!;
        rem = Math.floor(rem / exts[k]!);
        env.set(inner[k].loopVar, (inner[k].min as { value: number }).value + idx[k]);
      }
      try {
        if (evaluate(r.predicate, env) === 0) continue;
        const key = r.iterValues.map((v) => evaluate(v, env)).join(',');
        if (seen.has(key)) return false;
        seen.add(key);
      } catch {
        return false;
      }
    }
    return true;
  }
  const used = new Set<Var>();
  for (const v of r.iterValues) {
    const lin = linearize(v);
    for (const t of lin.terms.values()) {
      if (t.atom.kind !== 'Var' && inner.some((l) => usedVars(t.atom).has(l.loopVar))) return false;
      if (t.atom.kind === 'Var') used.add(t.atom);
    }
  }
  return inner.every((l) => used.has(l.loopVar));
}

interface ReductionPattern {
  store: BufferStore;
  combiner: 'Add' | 'Mul' | 'Max' | 'Min';
  rhs: PrimExpr;
  initValue: PrimExpr;
}

function matchReduction(prim: string, blk: Block): ReductionPattern {
  const st = blk.body.kind === 'BufferStore' ? blk.body : undefined;
  const init = blk.init && blk.init.kind === 'BufferStore' ? blk.init : undefined;
  if (!st || !init || init.buffer !== st.buffer)
    fail(
      C.SCHEDULE_NOT_REDUCTION,
      prim,
      `block '${blk.name}' is not a reduction with an init and one update store`,
    );
  const v = st.value;
  if (v.kind === 'Add' || v.kind === 'Mul' || v.kind === 'Max' || v.kind === 'Min') {
    const self = (e: PrimExpr): boolean =>
      e.kind === 'BufferLoad' &&
      e.buffer === st.buffer &&
      e.indices.length === st.indices.length &&
      e.indices.every((x, i) => structuralEqual(x, st.indices[i]));
    if (self(v.a)) return { store: st, combiner: v.kind, rhs: v.b, initValue: init.value };
    if (self(v.b)) return { store: st, combiner: v.kind, rhs: v.a, initValue: init.value };
  }
  return fail(
    C.SCHEDULE_NOT_REDUCTION,
    prim,
    `block '${blk.name}' does not update its output with +, *, max or min`,
  );
}

/** Factor the reduction along `loop` into a new buffer (dimension `factorAxis`); returns the rf block's name. */
export function rfactor(fn: PrimFunc, loop: For, factorAxis: number): { fn: PrimFunc; block: string } {
  const prim = 'rfactor';
  const lv = loop.loopVar;
  const under = allBlocks(loop.body).filter((b) => !isWrapper(b.block));
  if (under.length !== 1)
    fail(C.SCHEDULE_ERROR, prim, `loop '${lv.name}' must hold exactly one block (holds ${under.length})`);
  const r = under[0];
  const blk = r.block;
  const pat = matchReduction(prim, blk);
  const out = pat.store.buffer;
  const idx = new TreeIndex(fn.body);
  requireRootScope(prim, idx, r, (m) => fail(C.SCHEDULE_ERROR, prim, m));
  const loops = idx.loopsAbove(r);
  const redVars = new Set<Var>();
  const spVars = new Set<Var>();
  blk.iterVars.forEach((iv, i) => {
    for (const v of usedVars(r.iterValues[i])) (iv.iterType === 'spatial' ? spVars : redVars).add(v);
  });
  if (!redVars.has(lv) || spVars.has(lv))
    fail(C.SCHEDULE_NOT_REDUCTION, prim, `loop '${lv.name}' is not a reduction loop of block '${blk.name}'`);
  for (const l of loops) {
    if (redVars.has(l.loopVar) && spVars.has(l.loopVar))
      fail(
        C.SCHEDULE_ERROR,
        prim,
        `loop '${l.loopVar.name}' feeds both spatial and reduction variables of block '${blk.name}'`,
      );
  }
  // A predicate over reduction loops (a non-divisible split) could leave rf entries empty.
  if ([...usedVars(r.predicate)].some((v) => redVars.has(v))) {
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `block '${blk.name}' has a predicate over its reduction loops (a non-divisible split); rfactor needs exact loops`,
    );
  }
  const rank = out.shape.length;
  const axis = factorAxis < 0 ? factorAxis + rank + 1 : factorAxis;
  if (!Number.isInteger(axis) || axis < 0 || axis > rank)
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `factor axis ${factorAxis} is out of range for '${out.name}' of rank ${rank}`,
    );
  const scope = idx.scopeBlock(r);
  if (!scope) fail(C.SCHEDULE_ERROR, prim, `block '${blk.name}' has no scope block`);
  const container = scope.body.kind === 'SeqStmt' ? scope.body : scope;
  const item = idx.childOnPath(container, r)!;
  if (allBlocks(item).filter((b) => !isWrapper(b.block)).length !== 1) {
    fail(C.SCHEDULE_ERROR, prim, `block '${blk.name}' shares its loop nest with other blocks`);
  }
  const insert = <T>(xs: readonly T[], x: T): T[] => [...xs.slice(0, axis), x, ...xs.slice(axis)];
  const rfBuf: Buffer = buffer(`${out.name}_rf`, out.dtype, insert(out.shape, loop.extent), {
    scope: out.scope === 'global' ? 'global' : out.scope,
  });

  // The rf block: spatial vars, the factored loop as a new spatial var, other reduction loops as reduce vars.
  const rfMap = new Map<Node, Node>();
  const rfIvs = [];
  const rfVals: PrimExpr[] = [];
  for (let i = 0; i < blk.iterVars.length; i++) {
    const iv = blk.iterVars[i];
    if (iv.iterType !== 'spatial') continue;
    const nv = primVar(iv.var.name, iv.var.dtype);
    rfMap.set(iv.var, nv);
    rfIvs.push(iterVar(nv, iv.dom, 'spatial'));
    rfVals.push(r.iterValues[i]);
  }
  const vrf = primVar(`v${lv.name}`, lv.dtype);
  rfIvs.push(iterVar(vrf, range(loop.min, loop.extent), 'spatial'));
  rfVals.push(lv);
  const loopToIv = new Map<Node, Node>([[lv, vrf]]);
  for (const l of loops) {
    if (l === loop || !redVars.has(l.loopVar)) continue;
    const rv = primVar(`v${l.loopVar.name}`, l.loopVar.dtype);
    loopToIv.set(l.loopVar, rv);
    rfIvs.push(iterVar(rv, range(l.min, l.extent), 'reduce'));
    rfVals.push(l.loopVar);
  }
  blk.iterVars.forEach((iv, i) => {
    if (iv.iterType !== 'spatial') rfMap.set(iv.var, substitute(r.iterValues[i], loopToIv));
  });
  const rfIdx = insert(
    pat.store.indices.map((e) => substitute(e, rfMap)),
    vrf as PrimExpr,
  );
  const rfName = uniqueBlockName(fn.body, `${blk.name}_rf`);
  // Factoring the only reduction loop leaves nothing to reduce: each element is init ⊕ value.
  const stillReduces = rfIvs.some((iv) => iv.iterType === 'reduce');
  const rfBlock = updateRegions(
    stillReduces
      ? block(
          rfName,
          bufferStore(
            rfBuf,
            binary(pat.combiner, bufferLoad(rfBuf, rfIdx), substitute(pat.rhs, rfMap)),
            rfIdx,
          ),
          {
            iterVars: rfIvs,
            init: bufferStore(rfBuf, substitute(pat.initValue, rfMap), rfIdx),
            annotations: blk.annotations,
          },
        )
      : block(
          rfName,
          bufferStore(
            rfBuf,
            binary(pat.combiner, substitute(pat.initValue, rfMap), substitute(pat.rhs, rfMap)),
            rfIdx,
          ),
          {
            iterVars: rfIvs,
            annotations: blk.annotations,
          },
        ),
  );
  const rfRealize = blockRealize(rfVals, r.predicate, rfBlock);

  // The write-back block keeps the original name: it reduces the rf buffer along the factored axis.
  const kept = loops.filter((l) => l === loop || spVars.has(l.loopVar));
  const fresh = new Map<Var, Var>(kept.map((l) => [l.loopVar, primVar(l.loopVar.name, l.loopVar.dtype)]));
  const wbMap = new Map<Node, Node>();
  const wbIvs = [];
  const wbVals: PrimExpr[] = [];
  for (let i = 0; i < blk.iterVars.length; i++) {
    const iv = blk.iterVars[i];
    if (iv.iterType !== 'spatial') continue;
    const nv = primVar(iv.var.name, iv.var.dtype);
    wbMap.set(iv.var, nv);
    wbIvs.push(iterVar(nv, iv.dom, 'spatial'));
    wbVals.push(substitute(r.iterValues[i], fresh as ReadonlyMap<Node, Node>));
  }
  const vwb = primVar(`v${lv.name}`, lv.dtype);
  wbIvs.push(iterVar(vwb, range(loop.min, loop.extent), 'reduce'));
  wbVals.push(fresh.get(lv)!);
  const outIdx = pat.store.indices.map((e) => substitute(e, wbMap));
  const wbBlock = updateRegions(
    block(
      blk.name,
      bufferStore(
        out,
        binary(pat.combiner, bufferLoad(out, outIdx), bufferLoad(rfBuf, insert(outIdx, vwb as PrimExpr))),
        outIdx,
      ),
      {
        iterVars: wbIvs,
        init: bufferStore(out, substitute(pat.initValue, wbMap), outIdx),
        annotations: blk.annotations,
      },
    ),
  );
  const dropped = new Set(loops.filter((l) => !fresh.has(l.loopVar)).map((l) => l.loopVar));
  const pred = keptPredicate(r.predicate, dropped, fresh as ReadonlyMap<Node, Node>);
  let wbRealize = blockRealize(wbVals, true, wbBlock);
  if (pred) wbRealize = addPredicate(wbRealize, pred);
  const wbNest = wrapLoops(kept, fresh, wbRealize);

  const body = transformStmt(fn.body, (s) => {
    if (s === scope) {
      const inner = transformStmt(scope.body, (x) =>
        x === item
          ? seqStmt([transformStmt(item, (y) => (y === r ? rfRealize : undefined))!, wbNest])
          : undefined,
      )!;
      return freezeNode({
        ...scope,
        body: inner,
        allocBuffers: Object.freeze([...scope.allocBuffers, rfBuf]),
      });
    }
    return undefined;
  });
  return { fn: withBody(fn, body!), block: rfName };
}
