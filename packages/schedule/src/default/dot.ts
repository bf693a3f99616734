// Default CPU schedule for reductions whose operands are contiguous along the innermost
// reduction axis but not along any output axis (dense / linear with weights [N, K],
// small-batch matmul-vector products): the reduction axis is split by the vector width
// and rfactor'ed, so each output keeps a vector of partial sums that the vectorized
// loop updates with unit-stride loads; a few outputs share each loaded input vector
// (unrolled); a short write-back block adds the lanes. Floating-point sums are
// reassociated (lanes-wise partial sums), within the 1e-3 tolerance of long reductions.
import type { Var } from '@kiln/ir-core';
import type { Schedule } from '../schedule.js';
import type { BlockRV, LoopRV } from '../trace.js';
import { blockShape, constExtent, contiguousIn, loadsOf } from './analysis.js';
import { parallelizePrefix } from './contraction.js';

/** Upper bound on the partial-sum buffer (elements) the rule allocates. */
const MAX_RF_ELEMENTS = 1 << 22;

/** Outputs that share one loaded input vector. */
const OUTPUTS_PER_VECTOR = 4;

/** Whether `blockRV` is a sum whose innermost reduction axis can be vectorized this way. */
export function planDot(sch: Schedule, blockRV: BlockRV, lanes: number): { reduceVar: Var } | undefined {
  const r = sch.getRealize(blockRV);
  const shape = blockShape(r);
  if (!shape?.block.init || shape.reduce.length === 0) return undefined;
  const kv = shape.reduce[shape.reduce.length - 1];
  const kExt = constExtent(shape.block.iterVars.find((iv) => iv.var === kv)!.dom.extent);
  if (kExt === undefined || kExt % lanes !== 0 || kExt < 2 * lanes) return undefined;
  const value = shape.store.value;
  if (value.kind !== 'Add') return undefined;
  const loads = loadsOf(value).filter((l) => l.buffer !== shape.store.buffer);
  if (loads.length === 0 || !contiguousIn(loads, kv)) return undefined;
  let outputs = 1;
  for (const v of shape.spatial)
    outputs *=
      constExtent(shape.block.iterVars.find((iv) => iv.var === v)!.dom.extent) ?? Number.POSITIVE_INFINITY;
  if (outputs * lanes > MAX_RF_ELEMENTS) return undefined;
  return { reduceVar: kv };
}

export function scheduleDot(
  sch: Schedule,
  blockRV: BlockRV,
  plan: { reduceVar: Var },
  lanes: number,
  threads: number,
): void {
  const r = sch.getRealize(blockRV);
  const loops = sch.getLoops(blockRV);
  const kIdx = r.block.iterVars.findIndex((iv) => iv.var === plan.reduceVar);
  const kLoopVar = r.iterValues[kIdx] as Var;
  const kLoop = loops.find((l) => sch.get(l).loopVar === kLoopVar)!;
  const [, k1] = sch.split(kLoop, [undefined, lanes]);
  const nSpatial = r.block.iterVars.filter((iv) => iv.iterType === 'spatial').length;
  // Extent-1 axes have no loop: count the spatial loops the rf block keeps.
  const spatialLoops = r.block.iterVars.filter(
    (iv, i) => iv.iterType === 'spatial' && r.iterValues[i].kind === 'Var',
  ).length;
  const rf = sch.rfactor(k1, nSpatial);
  // rf block loops: spatial..., [other reductions], k0, k1 (now spatial, innermost).
  const rfLoops = sch.getLoops(rf);
  const v1 = rfLoops[rfLoops.length - 1];
  const k0 = rfLoops[rfLoops.length - 2];
  const spatial = rfLoops.slice(0, spatialLoops);
  const middle = rfLoops.slice(spatialLoops, rfLoops.length - 2);
  let outer: LoopRV[] = spatial;
  let unrolled: LoopRV | undefined;
  const last = spatial[spatial.length - 1];
  const lastExt = last ? constExtent(sch.get(last).extent) : undefined;
  if (last && lastExt !== undefined && lastExt % OUTPUTS_PER_VECTOR === 0 && lastExt > OUTPUTS_PER_VECTOR) {
    const [j0, j1] = sch.split(last, [undefined, OUTPUTS_PER_VECTOR]);
    outer = [...spatial.slice(0, -1), j0];
    unrolled = j1;
    sch.reorder(...outer, ...middle, k0, j1, v1);
  }
  const init = sch.decomposeReduction(rf, middle[0] ?? k0);
  sch.vectorize(v1);
  if (unrolled) sch.unroll(unrolled);
  const initLoops = sch.getLoops(init);
  const il = initLoops[initLoops.length - 1];
  if (constExtent(sch.get(il).extent) === lanes) sch.vectorize(il);
  if (threads > 1) parallelizePrefix(sch, outer, threads);
}
