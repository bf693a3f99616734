// The default CPU schedule applied to every kernel that has no tuned schedule. Each
// top-level block is classified by its structure (not by the kernel's name) and gets
// the rule of its class:
//   - sum of products whose output's last axis every operand reads contiguously
//     (matmul, batch matmul, stride-1 convolution): register-blocked, vectorized,
//     parallel (contraction.ts); when the vector operand is a full [.., K, N] tensor
//     and enough rows reuse it, it is first copied into panels (pack.ts); a read
//     through if_then_else (zero padding) is first hoisted into a padded copy (pad.ts);
//   - sums whose operands are contiguous only along the innermost reduction axis
//     (dense with [N, K] weights, row sums of softmax / layer norm): that axis is
//     rfactor'ed into vector lanes of partial sums (dot.ts);
//   - elementwise / injective blocks with unit-stride accesses: innermost axis split by
//     the vector width and vectorized, outer loops fused and parallelized;
//   - other sums over an output whose last axis the inputs read contiguously (convs
//     on 7- or 14-wide maps, strided or padded reads): reduction loops moved above the
//     innermost spatial loops, for LLVM's loop vectorizer (contraction.ts);
//   - everything else (reductions along an axis, pooling, gathers): the outer spatial
//     loops are fused and parallelized and the inner loops left to LLVM.
// Built from the schedule primitives, so their legality checks apply; a block that a
// primitive refuses keeps whatever its rule had done before the refusal.
import type { Buffer, Var } from '@kiln/ir-core';
import { isKilnError } from '@kiln/ir-core';
import type { PrimFunc, Stmt } from '@kiln/tensorir';
import type { Schedule } from '../schedule.js';
import { createSchedule } from '../schedule.js';
import type { BlockRV, LoopRV } from '../trace.js';
import {
  blockShape,
  constExtent,
  contiguousIn,
  loadsOf,
  panelWidth,
  usesVar,
  vectorizableValue,
  vectorLanes,
} from './analysis.js';
import type { ContractionPlan } from './contraction.js';
import {
  parallelizePrefix,
  planContraction,
  scheduleContraction,
  scheduleReductionOutside,
} from './contraction.js';
import { planDot, scheduleDot } from './dot.js';
import type { TileBuffer } from './epilogue.js';
import { compactTiles, fuseEpilogue, liftRowPredicates } from './epilogue.js';
import { packBuffer, packedBuffer } from './pack.js';
import { hoistPadding } from './pad.js';
import { scheduleRowwise } from './rows.js';

/** Iterations (of the whole loop nest) below which a block stays single-threaded. */
export const MIN_PARALLEL_WORK = 1 << 14;

/** Rows that must reuse a vector operand before packing it pays for the copy. */
export const MIN_PACK_ROWS = 16;

export interface CPUScheduleTarget {
  readonly numThreads?: number;
  /** LLVM feature strings (`+avx512f`, `+avx2`, ...): they decide the vector width. */
  readonly features?: readonly string[];
  /** LLVM target triple: AArch64 has 32 vector registers at any width. */
  readonly mtriple?: string;
}

/** Names of the blocks directly under the root block (or under no block at all). */
export function topLevelBlocks(s: Stmt, depth = 0, out: string[] = []): string[] {
  switch (s.kind) {
    case 'BlockRealize': {
      const isRoot = s.block.iterVars.length === 0 && depth === 0 && s.block.name === 'root';
      if (!isRoot) {
        out.push(s.block.name);
        return out;
      }
      return topLevelBlocks(s.block.body, depth + 1, out);
    }
    case 'For':
    case 'LetStmt':
    case 'Allocate':
    case 'DeclBuffer':
    case 'AttrStmt':
      return topLevelBlocks(s.body, depth, out);
    case 'SeqStmt':
      for (const x of s.seq) topLevelBlocks(x, depth, out);
      return out;
    case 'IfThenElse':
      topLevelBlocks(s.then, depth, out);
      if (s.else) topLevelBlocks(s.else, depth, out);
      return out;
    default:
      return out;
  }
}

function totalIterations(sch: Schedule, loops: readonly LoopRV[]): number {
  return loops.reduce((acc, l) => acc * (constExtent(sch.get(l).extent) ?? Number.POSITIVE_INFINITY), 1);
}

/** The leading loops bound only to spatial iteration variables (from 0; symbolic extents too). */
function outerSpatialLoops(sch: Schedule, blockRV: BlockRV, loops: readonly LoopRV[]): LoopRV[] {
  const realize = sch.getRealize(blockRV);
  const blk = realize.block;
  const out: LoopRV[] = [];
  for (const l of loops) {
    const loop = sch.get(l);
    if (loop.min.kind !== 'IntImm' || loop.min.value !== 0) break;
    const v = loop.loopVar;
    const spatialOnly = realize.iterValues.every(
      (val, i) => !usesVar(val, v) || blk.iterVars[i].iterType === 'spatial',
    );
    if (!spatialOnly) break;
    out.push(l);
  }
  return out;
}

/** Fuse and parallelize the outer spatial loops (the fallback rule). */
function scheduleParallelOuter(sch: Schedule, blockRV: BlockRV, threads: number): void {
  if (threads <= 1) return;
  const loops = sch.getLoops(blockRV);
  if (totalIterations(sch, loops) < MIN_PARALLEL_WORK) return;
  parallelizePrefix(sch, outerSpatialLoops(sch, blockRV, loops), threads);
}

/**
 * Elementwise rule: a block without reduction whose innermost loop every access walks
 * with unit stride (or not at all) and that holds no conditional gets that loop split
 * by the vector width and vectorized. Returns false when the rule does not apply.
 */
function scheduleElementwise(sch: Schedule, blockRV: BlockRV, lanes: number, threads: number): boolean {
  const r = sch.getRealize(blockRV);
  const shape = blockShape(r);
  if (!shape || shape.reduce.length > 0 || shape.spatial.length === 0 || r.block.init) return false;
  if (r.block.body.kind !== 'BufferStore') return false;
  const value = shape.store.value;
  // Selects, if_then_else and calls to libm are left to LLVM, which knows their cost;
  // math that the backend emits as vector code (sqrt, float32 exp / erf / tanh) is split.
  const conditional = !vectorizableValue(value);
  const loops = sch.getLoops(blockRV);
  const inner = loops[loops.length - 1];
  const innerLoop = sch.get(inner);
  const innerVar = r.block.iterVars.find((_, i) => r.iterValues[i] === innerLoop.loopVar)?.var;
  const ext = constExtent(innerLoop.extent);
  const work = totalIterations(sch, loops);
  if (!conditional && innerVar && ext !== undefined && ext >= lanes && ext % lanes === 0) {
    const accesses = [...loadsOf(value), { indices: shape.store.indices }];
    if (contiguousIn(accesses, innerVar as Var)) {
      const [, vec] = sch.split(inner, [undefined, lanes]);
      sch.vectorize(vec);
    } else {
      // A panel copy (the weights of a matmul packed at run time): the axis indexes
      // through floordiv / floormod by the panel width; split by the panel, the panels
      // outermost, so both sides walk a panel row contiguously, a vector at a time
      // (left to LLVM it became a scatter of single elements).
      const c = panelWidth(accesses, innerVar as Var);
      if (c !== undefined && ext > c && ext % c === 0 && c % lanes === 0) {
        const [o, i] = sch.split(inner, [undefined, c]);
        sch.reorder(o, ...sch.getLoops(blockRV).slice(0, -2));
        const [, vec] = sch.split(i, [undefined, lanes]);
        sch.vectorize(vec);
      }
    }
  }
  if (threads > 1 && work >= MIN_PARALLEL_WORK) {
    const outer = outerSpatialLoops(sch, blockRV, sch.getLoops(blockRV));
    // Never the vectorized loop itself: it stays innermost.
    const cand = outer.filter((l) => sch.get(l).forKind === 'serial');
    const keep = cand.length === outer.length ? cand.slice(0, Math.max(1, cand.length - 1)) : cand;
    parallelizePrefix(sch, keep, threads);
  }
  return true;
}

/** The vector operand of a contraction plan, when packing it into panels pays off. */
function packCandidate(
  sch: Schedule,
  blockRV: BlockRV,
  plan: ContractionPlan,
  layoutFree: ReadonlySet<Buffer>,
): { index: number; buffer: Buffer } | undefined {
  const r = sch.getRealize(blockRV);
  const shape = blockShape(r);
  if (!shape) return undefined;
  const reduce = new Set<Var>(shape.reduce);
  const loads = loadsOf(shape.store.value).filter(
    (l) => l.buffer !== shape.store.buffer && l.indices.some((e) => usesVar(e, plan.vecVar)),
  );
  if (loads.length !== 1) return undefined;
  const { buffer, indices } = loads[0];
  // Rows: the register block's row axis, else the outer spatial axes. The copy must pay
  // for itself over them, unless the operand is constant at every call (the kernel's
  // `layout_free_buffers`): relax.PrepackWeights then packs it at compile time. A symbolic
  // row count (a dynamic batch or sequence) counts as many rows.
  const rowVars = plan.rowVar ? [plan.rowVar] : shape.spatial.filter((v) => v !== plan.vecVar);
  const rowExt = rowVars.reduce((a, v) => {
    const e = constExtent(r.block.iterVars.find((iv) => iv.var === v)!.dom.extent);
    return a * (e ?? Number.POSITIVE_INFINITY);
  }, 1);
  if (rowExt < MIN_PACK_ROWS && !layoutFree.has(buffer)) return undefined;
  const n = indices.length;
  // [..., k, j]: the column is the vector axis itself, the row a reduction variable.
  if (
    n < 2 ||
    indices[n - 1] !== plan.vecVar ||
    indices[n - 2].kind !== 'Var' ||
    !reduce.has(indices[n - 2] as Var)
  )
    return undefined;
  const last = constExtent(buffer.shape[n - 1]);
  if (last === undefined || last % (plan.nrVectors * plan.lanes) !== 0) return undefined;
  // One panel as wide as the tensor is the tensor's own layout (a weight that ConvertLayout
  // already packed at compile time): nothing to copy.
  if (last === plan.nrVectors * plan.lanes) return undefined;
  const index = r.block.reads.findIndex((rg) => rg.buffer === buffer);
  return index < 0 ? undefined : { index, buffer };
}

/** The parameters listed in `layout_free_buffers` (constant at every call). */
function layoutFreeParams(fn: PrimFunc): Set<Buffer> {
  const attr = fn.attrs.layout_free_buffers;
  const out = new Set<Buffer>();
  if (!Array.isArray(attr)) return out;
  for (const i of attr) {
    const p = typeof i === 'number' ? fn.params[i] : undefined;
    if (p?.kind === 'Buffer') out.add(p);
  }
  return out;
}

/** Schedule every top-level block of `fn` for a CPU with `target`'s threads and vector width. */
export function defaultCPUSchedule(fn: PrimFunc, target: CPUScheduleTarget = {}): PrimFunc {
  const threads = Math.max(1, target.numThreads ?? 1);
  const lanes = vectorLanes(target.features, 32);
  const vectorRegs = lanes >= 16 || /^(aarch64|arm64)/.test(target.mtriple ?? '') ? 32 : 16;
  // Phase 1: plan the contractions and pack their vector operands (a new buffer layout
  // cannot be expressed by the primitives, so the packed function starts a new schedule).
  const plans = new Map<string, ContractionPlan>();
  const layoutFree = layoutFreeParams(fn);
  let packed = fn;
  {
    const sch = createSchedule(hoistPadding(createSchedule(fn).func));
    const packs: Array<{ cacheBlock: string; panel: number }> = [];
    for (const name of topLevelBlocks(sch.func.body)) {
      try {
        const b = sch.getBlock(name);
        // Symbolic rows need the accumulators in a tile buffer (see liftRowPredicates): a
        // buffer the kernel allocates itself, whose elementwise consumers fuse into the tile.
        const out = sch.getRealize(b).block.writes[0]?.buffer;
        const intermediate =
          sch.func.body.kind === 'BlockRealize' &&
          out !== undefined &&
          sch.func.body.block.allocBuffers.includes(out);
        let plan = planContraction(sch, b, lanes, vectorRegs, { symbolicRows: true });
        if (plan?.symbolicRows && !intermediate) {
          // The kernel's own output: accumulate into a buffer of the kernel (whose tile
          // compactTiles keeps per thread) and copy each finished tile out (an epilogue).
          sch.cacheWrite(b, 0, 'global');
          plan = planContraction(sch, b, lanes, vectorRegs, { symbolicRows: true });
        }
        if (!plan) continue;
        plans.set(name, plan);
        const cand = packCandidate(sch, b, plan, layoutFree);
        if (cand)
          packs.push({
            cacheBlock: sch.get(sch.cacheRead(b, cand.index, 'global')).name,
            panel: plan.nrVectors * plan.lanes,
          });
      } catch (e) {
        if (!isKilnError(e)) throw e;
      }
    }
    packed = sch.func;
    for (const p of packs) {
      const copy = createSchedule(packed);
      const blk = copy.get(copy.getBlock(p.cacheBlock));
      if (blk.body.kind !== 'BufferStore') continue;
      const src = blk.body.buffer;
      packed = packBuffer(packed, src, packedBuffer(src, p.panel), p.panel);
    }
  }
  // Phase 2: a row-wise kernel (softmax, layer norm) as a whole, else one rule per block.
  if (plans.size === 0) {
    const rowwise = scheduleRowwise(packed, topLevelBlocks(packed.body), lanes, threads, MIN_PARALLEL_WORK);
    if (rowwise) return rowwise;
  }
  const sch = createSchedule(packed);
  const fused = new Set<string>();
  const tiles: TileBuffer[] = [];
  for (const name of topLevelBlocks(sch.func.body)) {
    if (fused.has(name)) continue;
    try {
      const b = sch.getBlock(name);
      const plan = plans.get(name);
      if (plan) {
        const init = scheduleContraction(sch, b, plan, threads);
        if (init) tiles.push(...fuseEpilogue(sch, b, init, plan, fused));
        continue;
      }
      const dot = planDot(sch, b, lanes);
      if (dot) {
        scheduleDot(sch, b, dot, lanes, threads);
        continue;
      }
      if (scheduleElementwise(sch, b, lanes, threads)) continue;
      if (scheduleReductionOutside(sch, b, threads)) continue;
      scheduleParallelOuter(sch, b, threads);
    } catch (e) {
      if (!isKilnError(e)) throw e;
    }
  }
  return liftRowPredicates(compactTiles(sch.func, tiles));
}
