// Default CPU schedule for sum-of-products blocks (matmul, batch matmul, direct
// convolution): the output is tiled into a register block of MR rows × NR vectors; the
// reduction loops run outside the register block so the MR×NR accumulators stay in
// vector registers for the whole reduction (LLVM promotes the unrolled tile of the
// output buffer to registers: kernel params are noalias); the innermost spatial axis,
// which every operand reads contiguously or not at all, is vectorized with the target's
// lane count; the register block is unrolled; the init is split out by
// decomposeReduction; the outer spatial tiles are fused and parallelized.
import type { Var } from '@kiln/ir-core';
import type { Schedule } from '../schedule.js';
import type { BlockRV, LoopRV } from '../trace.js';
import { blockShape, constExtent, contiguousIn, loadsOf, usesVar } from './analysis.js';

export interface ContractionPlan {
  /** Spatial variable vectorized (the output's last axis). */
  readonly vecVar: Var;
  /** Spatial variable of the register block's rows (or undefined: a single row). */
  readonly rowVar?: Var;
  readonly lanes: number;
  /** Vectors per register row, and rows. */
  readonly nrVectors: number;
  readonly mr: number;
  /**
   * A second column axis of the tile (a convolution's output-channel blocks in
   * NCHW[x]c): read by the vector operand only, so each loaded broadcast serves `nb`
   * blocks of `nrVectors` vectors.
   */
  readonly blockVar?: Var;
  readonly nb?: number;
  /**
   * Every operand reads the vector axis (a depthwise convolution): no operand is reused
   * across rows, so the block streams its inputs once, bound by memory rather than FMAs.
   */
  readonly streaming?: boolean;
  /**
   * The row axis has a symbolic extent (a dynamic batch or sequence): its split by `mr`
   * leaves a partial last tile, guarded by a predicate that liftRowPredicates moves out
   * of the reduction once the accumulators are a per-tile buffer.
   */
  readonly symbolicRows?: boolean;
}

/**
 * Plan a register-blocked schedule for a reduction block whose body is
 * `out[s...] = out[s...] + f(loads)`, or undefined when it is not one or the output's
 * innermost axis cannot be vectorized with unit-stride loads.
 */
export function planContraction(
  sch: Schedule,
  blockRV: BlockRV,
  lanes: number,
  vectorRegs: number,
  options: { symbolicRows?: boolean } = {},
): ContractionPlan | undefined {
  const r = sch.getRealize(blockRV);
  const shape = blockShape(r);
  if (!shape?.block.init || shape.reduce.length === 0 || shape.spatial.length === 0) return undefined;
  const { store, spatial } = shape;
  // The output is indexed by the spatial variables in order (te's layout).
  if (store.indices.length !== spatial.length || store.indices.some((e, i) => e !== spatial[i]))
    return undefined;
  const vecVar = spatial[spatial.length - 1];
  const loads = loadsOf(store.value);
  // Stride-2 reads (a stride-2 convolution) become strided vector loads; still far
  // better than leaving the block scalar.
  if (!contiguousIn(loads, vecVar, 2)) return undefined;
  const ivOf = (v: Var) => shape.block.iterVars.find((iv) => iv.var === v)!;
  const n = constExtent(ivOf(vecVar).dom.extent);
  if (n === undefined || n < 4) return undefined;
  // Rows: the innermost other spatial axis that the vector operands do not read, so each
  // row reuses the loaded vectors and contributes one broadcast scalar.
  const vecLoads = loads.filter(
    (l) => l.buffer !== store.buffer && l.indices.some((e) => usesVar(e, vecVar)),
  );
  let rowVar: Var | undefined;
  let symbolicRows = false;
  for (let i = spatial.length - 2; i >= 0; i--) {
    const v = spatial[i];
    const ext = constExtent(ivOf(v).dom.extent);
    if (vecLoads.some((l) => l.indices.some((e) => usesVar(e, v)))) continue;
    // A symbolic row count (when the caller can keep the accumulators in a tile buffer).
    if (ext === undefined && !options.symbolicRows) continue;
    if (ext !== undefined && ext < 2) continue;
    rowVar = v;
    symbolicRows = ext === undefined;
    break;
  }
  // No such axis (a depthwise convolution reads its input and weights at every output
  // channel): rows along the innermost other spatial axis still keep one accumulator per
  // row in registers, each row with its own input vector and the weight vectors shared.
  // (A single-row matmul has no such axis either, but its other operand is broadcast: it
  // is a matrix-vector product, not a stream.)
  const streaming = !rowVar && loads.every((l) => l.buffer === store.buffer || vecLoads.includes(l));
  if (!rowVar) {
    for (let i = spatial.length - 2; i >= 0; i--) {
      const ext = constExtent(ivOf(spatial[i]).dom.extent);
      if (ext !== undefined && ext >= 2) {
        rowVar = spatial[i];
        break;
      }
    }
  }
  // Column blocks: an axis that only the vector operands read (a convolution's output
  // channel blocks, when its rows come from the output width and its broadcast scalars
  // from the input): 4 blocks × 4 rows need 8 loads per 16 FMAs where 14 rows need 15
  // per 14 (ONNX Runtime's NCHWc kernel computes up to 4 filter blocks at once too).
  const bcastLoads = loads.filter((l) => l.buffer !== store.buffer && !vecLoads.includes(l));
  let blockVar: Var | undefined;
  if (rowVar && bcastLoads.length > 0) {
    for (let i = spatial.length - 2; i >= 0; i--) {
      const v = spatial[i];
      const ext = constExtent(ivOf(v).dom.extent);
      if (v === rowVar || ext === undefined || ext < 2) continue;
      if (bcastLoads.some((l) => l.indices.some((e) => usesVar(e, v)))) continue;
      if (!vecLoads.some((l) => l.indices.some((e) => usesVar(e, v)))) continue;
      blockVar = v;
      break;
    }
  }
  const nbExt = blockVar ? constExtent(ivOf(blockVar).dom.extent)! : 1;
  const m = rowVar ? (constExtent(ivOf(rowVar).dom.extent) ?? Number.POSITIVE_INFINITY) : 1;
  const budget = Math.max(4, vectorRegs - 8);
  // Narrower vectors when the full width does not divide the axis (a 56-wide feature map
  // takes 8 lanes); a tail-guarded vector inside the register block would cost more.
  // Vectors of a width that divides the axis and nearly fills a register (14 lanes for
  // 28- or 56-wide feature maps): LLVM widens them to the register, wasting a lane or two.
  const widths: number[] = [];
  for (let d = lanes; d >= 4; d--) if (n % d === 0) widths.push(d);
  // Per width: the register tile (rows x blocks x vectors) with the most accumulators
  // that fits the register budget and divides the axes; fewer loads per step (row
  // broadcasts + block vectors) break ties. Rows may be any divisor of the row axis (7
  // for a 7-wide map). Across widths, the most accumulated lanes win; ties go to the
  // wider vector.
  let pick: ContractionPlan | undefined;
  let pickScore = 0;
  for (const l of widths) {
    const nVec = n / l;
    let best: { mr: number; nr: number; nb: number } | undefined;
    for (let nr = 1; nr <= Math.min(4, nVec); nr++) {
      if (nVec % nr !== 0) continue;
      for (let nb = 1; nb <= Math.min(4, nbExt) && nb * nr <= 4; nb++) {
        if (nbExt % nb !== 0) continue;
        let mr = Math.min(m, Math.floor(budget / (nr * nb)));
        // Symbolic rows: any tile height (the last tile is partial).
        while (mr > 1 && !symbolicRows && m % mr !== 0) mr--;
        const acc = mr * nr * nb;
        const bestAcc = best ? best.mr * best.nr * best.nb : 0;
        if (!best || acc > bestAcc || (acc === bestAcc && mr + nr * nb < best.mr + best.nr * best.nb))
          best = { mr, nr, nb };
      }
    }
    if (!best) continue;
    const score = l * best.mr * best.nr * best.nb;
    if (score > pickScore) {
      pick = {
        vecVar,
        rowVar,
        lanes: l,
        nrVectors: best.nr,
        mr: best.mr,
        ...(best.nb > 1 ? { blockVar, nb: best.nb } : {}),
        ...(streaming ? { streaming } : {}),
        ...(symbolicRows ? { symbolicRows } : {}),
      };
      pickScore = score;
    }
  }
  if (pick) return pick;
  return undefined;
}

/**
 * Apply `plan` to the block; returns the accumulator init block (decomposeReduction's),
 * whose loops outside the reduction are the register tile's loops, or undefined when
 * the block was left as it was.
 */
export function scheduleContraction(
  sch: Schedule,
  blockRV: BlockRV,
  plan: ContractionPlan,
  threads: number,
): BlockRV | undefined {
  const r = sch.getRealize(blockRV);
  const multiplyAdds = r.block.iterVars.reduce(
    (a, iv) => a * (constExtent(iv.dom.extent) ?? Number.POSITIVE_INFINITY),
    1,
  );
  const loops = sch.getLoops(blockRV);
  const loopOfVar = new Map<Var, LoopRV>();
  r.block.iterVars.forEach((iv, i) => {
    const val = r.iterValues[i] as Var;
    const l = loops.find((x) => sch.get(x).loopVar === val);
    if (l) loopOfVar.set(iv.var, l);
  });
  const spatialVars = r.block.iterVars.filter((iv) => iv.iterType === 'spatial').map((iv) => iv.var);
  const reduceVars = r.block.iterVars.filter((iv) => iv.iterType === 'reduce').map((iv) => iv.var);
  // No extent-1 loop inside the reduction: the binding drops it and the init could not move.
  const vecLoop = loopOfVar.get(plan.vecVar)!;
  const n = constExtent(sch.get(vecLoop).extent)!;
  let j0: LoopRV | undefined;
  let j1: LoopRV | undefined;
  let j2: LoopRV;
  if (plan.nrVectors > 1) [j0, j1, j2] = sch.split(vecLoop, [undefined, plan.nrVectors, plan.lanes]);
  else if (n > plan.lanes) [j0, j2] = sch.split(vecLoop, [undefined, plan.lanes]);
  else j2 = vecLoop;
  let i0: LoopRV | undefined;
  let i1: LoopRV | undefined;
  if (plan.rowVar && plan.mr > 1) [i0, i1] = sch.split(loopOfVar.get(plan.rowVar)!, [undefined, plan.mr]);
  else if (plan.rowVar) i0 = loopOfVar.get(plan.rowVar);
  let b0: LoopRV | undefined;
  let b1: LoopRV | undefined;
  if (plan.blockVar && plan.nb && plan.nb > 1)
    [b0, b1] = sch.split(loopOfVar.get(plan.blockVar)!, [undefined, plan.nb]);
  const outer: LoopRV[] = [];
  for (const v of spatialVars) {
    if (v === plan.vecVar) continue;
    if (v === plan.rowVar) {
      outer.push(i0!);
      continue;
    }
    if (b0 && v === plan.blockVar) {
      outer.push(b0);
      continue;
    }
    const l = loopOfVar.get(v);
    if (l) outer.push(l);
  }
  // The vector axis tile goes outermost among the row tiles: its panel of the
  // vector operand (reduction × NR) then stays in L2 while every row tile streams past it.
  const rowAt = i0 ? outer.indexOf(i0) : -1;
  if (j0 && rowAt >= 0) outer.splice(rowAt, 0, j0);
  else if (j0) outer.push(j0);
  const allRed = reduceVars.map((v) => loopOfVar.get(v)).filter((l): l is LoopRV => l !== undefined);
  // Extent-1 reduction loops (a 1x1 kernel) feed no binding once simplified: keep them
  // above the decomposition point, where they cannot count as repeated iterations.
  const unitRed = allRed.filter((l) => constExtent(sch.get(l).extent) === 1);
  const red = allRed.filter((l) => constExtent(sch.get(l).extent) !== 1);
  if (red.length === 0) return undefined;
  outer.push(...unitRed);
  const inner = [...(i1 ? [i1] : []), ...(b1 ? [b1] : []), ...(j1 ? [j1] : []), j2];
  // A loop not found among the block's loops (a binding the plan did not foresee): leave the block.
  if ([...outer, ...red, ...inner].some((x) => x === undefined)) return undefined;
  // A convolution whose output per column block is small (a 7x7 or 14x14 map) runs its
  // outermost reduction chunk (input-channel blocks) above the rows: the weights of one
  // chunk then stay in L1 while every row tile uses them, and the accumulators of all
  // rows (at most ROWS_OUTSIDE_BYTES) wait in L1 between chunks. Without it, each row
  // tile streams the column block's whole weight slice from L2 (ResNet-18's last
  // stage: 9.4 MB of weights, more than L2).
  let above = outer;
  let below: LoopRV[] = [];
  // The chunk loop is the first reduction axis (input-channel blocks), not a kernel
  // window axis (the first conv's 3 input channels are a single block).
  if (b0 && red.length > 1 && red[0] === allRed[0]) {
    const at = outer.indexOf(b0) + 1;
    const rows = outer.slice(at).filter((l) => !unitRed.includes(l));
    const region = rows.reduce((a, l) => a * (constExtent(sch.get(l).extent) ?? Number.POSITIVE_INFINITY), 1);
    const bytes = region * plan.mr * (plan.nb ?? 1) * plan.nrVectors * plan.lanes * 4;
    // Only the loops above the chunk loop can run in parallel: keep two iterations per
    // thread (a 7x7 map with 5 column blocks still runs 3:2, where streaming its weights
    // from L2 for every row kept it from scaling at all).
    const parallelWork = outer.slice(0, at).reduce((a, l) => a * (constExtent(sch.get(l).extent) ?? 1), 1);
    if (rows.length > 0 && bytes <= ROWS_OUTSIDE_BYTES && (threads <= 1 || parallelWork >= threads * 2)) {
      above = outer.slice(0, at);
      below = outer.slice(at);
    } else if (rows.length > 0 && bytes > ROWS_OUTSIDE_BYTES) {
      // A larger map: the same for bands of output rows (a divisor of the first row
      // loop), the bands running in parallel too.
      const first = rows[0];
      const e = constExtent(sch.get(first).extent);
      const perRow = e === undefined ? Number.POSITIVE_INFINITY : bytes / e;
      let band = Math.floor(ROWS_OUTSIDE_BYTES / perRow);
      if (e !== undefined) while (band > 1 && e % band !== 0) band--;
      if (e !== undefined && band >= 1 && band < e) {
        const [r0, r1] = sch.split(first, [undefined, band]);
        const i = outer.indexOf(first);
        above = [...outer.slice(0, at), r0];
        below = [...outer.slice(at, i), r1, ...outer.slice(i + 1)];
      }
    }
  }
  const chunk = below.length > 0 ? [red[0]] : [];
  const rest = below.length > 0 ? red.slice(1) : red;
  sch.reorder(...above, ...chunk, ...below, ...rest, ...inner);
  const init = sch.decomposeReduction(blockRV, red[0]);
  sch.vectorize(j2);
  // The init nest copies the register-block loops: zero the tile with vector stores too.
  const initLoops = sch.getLoops(init);
  const last = initLoops[initLoops.length - 1];
  if (constExtent(sch.get(last).extent) === plan.lanes) sch.vectorize(last);
  if (j1) sch.unroll(j1);
  if (b1) sch.unroll(b1);
  if (i1) sch.unroll(i1);
  if (threads > 1 && !(plan.streaming && multiplyAdds < MIN_PARALLEL_STREAMING))
    parallelizePrefix(sch, above, threads);
  return init;
}

/**
 * Multiply-adds below which a streaming contraction (depthwise) stays on one thread:
 * MobileNetV2's depthwise convolutions on 7x7 to 28x28 maps (0.25M–1.35M, 5–25 µs) ran
 * slower on 2 threads than on 1 (the parallel region's hand-off and the cross-core
 * traffic of their input cost more than half the work); from 2.7M on, 2 threads helped.
 */
export const MIN_PARALLEL_STREAMING = 1_500_000;

/** Largest accumulator region (bytes) kept in L1 across reduction chunks (see scheduleContraction). */
export const ROWS_OUTSIDE_BYTES = 32 * 1024;

/**
 * Fuse the leading loops of `outer` until they give every thread work, and parallelize.
 * A symbolic extent (a dynamic batch or sequence) may be 1 at run time, so it does not
 * count as work: the loops after it join the parallel loop too, until the constant ones
 * alone give every thread enough.
 */
export function parallelizePrefix(
  sch: Schedule,
  outer: readonly LoopRV[],
  threads: number,
): LoopRV | undefined {
  const chosen: LoopRV[] = [];
  let work = 1;
  let symbolic = false;
  for (const l of outer) {
    const ext = constExtent(sch.get(l).extent);
    chosen.push(l);
    if (ext === undefined) symbolic = true;
    else work *= ext;
    if (work >= threads * 8) break;
  }
  if (chosen.length === 0 || (work < 2 && !symbolic)) return undefined;
  const fused = chosen.length > 1 ? sch.fuse(...chosen) : chosen[0];
  sch.parallel(fused);
  return fused;
}

/**
 * Fallback for sums that cannot be register-blocked (an output width that no vector
 * width divides, strided or padded input reads): move the reduction loops above the
 * innermost spatial loops (the last two, or the last one for 2-D outputs), so that the
 * innermost loop walks the output and the inputs contiguously, once per reduction step,
 * where LLVM's loop vectorizer can take it; outer spatial loops are parallelized.
 */
export function scheduleReductionOutside(sch: Schedule, blockRV: BlockRV, threads: number): boolean {
  const r = sch.getRealize(blockRV);
  const shape = blockShape(r);
  if (!shape?.block.init || shape.reduce.length === 0 || shape.spatial.length < 2) return false;
  const { store, spatial } = shape;
  if (store.indices.length !== spatial.length || store.indices.some((e, i) => e !== spatial[i])) return false;
  const last = spatial[spatial.length - 1];
  if (!contiguousIn(loadsOf(store.value), last)) return false;
  const loops = sch.getLoops(blockRV);
  const loopOf = (v: Var) => {
    const i = r.block.iterVars.findIndex((iv) => iv.var === v);
    return loops.find((l) => sch.get(l).loopVar === r.iterValues[i]);
  };
  const extentOf = (v: Var) => constExtent(shape.block.iterVars.find((iv) => iv.var === v)!.dom.extent);
  // Two inner axes when both are constant (a 7x7 map); one when the last two include a
  // symbolic extent (attention scores over a dynamic sequence: the key axis innermost,
  // a run-time trip count that LLVM's loop vectorizer takes as it is).
  const twoConst = spatial.length >= 3 && spatial.slice(-2).every((v) => extentOf(v) !== undefined);
  const nInner = twoConst ? 2 : 1;
  const innerVars = spatial.slice(spatial.length - nInner);
  // Keep the inner tile small enough to stay in L1 across the reduction.
  let tile = 1;
  for (const v of innerVars) tile *= extentOf(v) ?? 1;
  if (tile > 4096) return false;
  const defined = (ls: Array<LoopRV | undefined>) => ls.filter((l): l is LoopRV => l !== undefined);
  const o = defined(spatial.slice(0, spatial.length - nInner).map(loopOf));
  const red = defined(shape.reduce.map(loopOf));
  const inner = defined(innerVars.map(loopOf));
  if (red.length === 0 || inner.length === 0) return false;
  sch.reorder(...o, ...red, ...inner);
  sch.decomposeReduction(blockRV, red[0]);
  if (threads > 1) parallelizePrefix(sch, o, threads);
  return true;
}
