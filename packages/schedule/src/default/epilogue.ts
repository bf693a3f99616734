// Epilogue fusion for the register-blocked contraction: the elementwise blocks that
// consume a convolution's or matmul's output in a fused kernel (bias add, activation,
// residual add) move under the register tile's innermost spatial loop
// (reverseComputeAt), so each tile is finished while it is still in L1 instead of in a
// second pass over the whole output; their innermost loop is vectorized. Values are
// computed by the same expressions in the same order, so results are bit-identical.
import { postOrderVisit } from '@kiln/ir-core';
import type { Schedule } from '../schedule.js';
import type { BlockRV, LoopRV } from '../trace.js';
import { blockShape, constExtent } from './analysis.js';

/** An elementwise block: one store, spatial iteration variables only, no conditionals or calls. */
function plainElementwise(sch: Schedule, b: BlockRV): boolean {
  const shape = blockShape(sch.getRealize(b));
  if (!shape || shape.reduce.length > 0 || shape.block.init) return false;
  let plain = true;
  postOrderVisit(shape.store.value, (n) => {
    if (n.kind === 'Select' || n.kind === 'Call' || n.kind === 'Let') plain = false;
  });
  return plain;
}

/**
 * Move the chain of elementwise consumers of `block` (scheduled by scheduleContraction,
 * `init` its accumulator init) under the tile loop; `moved` receives the names of the
 * blocks moved (already scheduled: the caller's per-block rules must skip them).
 */
export function fuseEpilogue(
  sch: Schedule,
  block: BlockRV,
  init: BlockRV,
  lanes: number,
  moved: Set<string>,
): void {
  const loops = sch.getLoops(block);
  const initLoops = sch.getLoops(init);
  let k = 0;
  while (
    k < loops.length &&
    k < initLoops.length &&
    sch.get(loops[k]).loopVar === sch.get(initLoops[k]).loopVar
  )
    k++;
  if (k === 0) return;
  const tile: LoopRV = loops[k - 1];
  let producer = block;
  for (;;) {
    const consumers = sch.getConsumers(producer);
    if (consumers.length !== 1 || !plainElementwise(sch, consumers[0])) break;
    const c = consumers[0];
    sch.reverseComputeAt(c, tile);
    moved.add(sch.get(c).name);
    const cl = sch.getLoops(c);
    const inner = cl[cl.length - 1];
    const ext = inner ? constExtent(sch.get(inner).extent) : undefined;
    if (cl.length > k && ext !== undefined && ext % lanes === 0) {
      if (ext > lanes) {
        const [, v] = sch.split(inner, [undefined, lanes]);
        sch.vectorize(v);
      } else sch.vectorize(inner);
    }
    producer = c;
  }
}
