// TensorIR lowering: block-structured TIR → flat loop-level TIR ready for codegen.
//
// THE LOWERED-TIR CONTRACT (what `tir.lowerForCodegen` / `lowerPrimFunc` produce and what
// the LLVM, CUDA, Metal and Vulkan code generators may assume; `verifyLowered` checks it):
//
//  1. No Block, BlockRealize, IterVar or BufferRegion remains; reduction inits are
//     explicit `if (reduce vars at min) init` statements.
//  2. Every BufferLoad / BufferStore has exactly one index on a flat buffer: shape [n],
//     no strides, elem_offset 0. Strides and element offsets are folded into the index.
//     Param Buffers keep their N-d shape in the signature (the caller binds symbolic
//     dims from them); the body declares their flat views with DeclBuffer over the same
//     `data` var. Buffers sharing a `data` var alias the same memory.
//  3. Temporaries are `Allocate(flat buffer, body)`; the buffer's `scope` (`global`,
//     `shared`, `local`, ...) says where. Storage may be shared by a DeclBuffer view of
//     another buffer (same dtype, same scope) after tir.StorageRewrite.
//  4. Loops are For with kind
//       serial | parallel
//       | vectorized (only if legal: scalar code whose iterations are provably
//         independent, `lanesIndependent`; a hint - codegen may vectorize it its own way
//         or run it serially. Loops VectorizeLoop could turn into lanes are gone.)
//       | unrolled (only with a non-constant extent: an unroll hint)
//       | thread_binding (min 0, threadTag in blockIdx.[xyz] / threadIdx.[xyz]; every loop
//         of a tag has the same extent; blockIdx loops are not inside other loops).
//  5. Vector values are built from Ramp / Broadcast, vector loads/stores and lane-wise ops.
//     A vector load/store index is always a Ramp (contiguous or strided, never a gather);
//     a vector store's Ramp stride is a nonzero constant.
//  6. Intrinsic calls use canonical names and are either in CODEGEN_INTRINSICS (the
//     `tir.*` intrinsics every backend implements; the elementwise ones on scalars and
//     vectors) or target-specific (`cuda.*`, `llvm.*`, ...). tir.rsqrt, tir.sigmoid,
//     tir.exp10, tir.log10, tir.hypot never reach codegen; tir.assume is dropped.
//     FloorDiv / FloorMod / Min / Max / Select are nodes, not calls: integer floor
//     division stays for codegen.
//  7. Every Var is bound at most once (loop vars, let vars, allocations), so a codegen
//     may key its environment on Var objects.
//  8. A kernel with thread bindings has the attribute `kiln.launch` = { "blockIdx.x":
//     extent, "threadIdx.x": extent, ... } (numbers, or LaunchExtent expressions over the
//     params for symbolic extents).
//  9. No no-op statements; an empty kernel body is Evaluate(0).
// 10. No low-precision dtype (float8_*, float4_e2m1fn, int2/int4/uint2/uint4): buffers hold
//     their storage integers and casts are bit arithmetic (tir.LegalizeLowPrecision).
//
// Pipeline (tir.lowerForCodegen): LowerInitBlock, ConvertBlocksToLoops, FlattenBuffer,
// LowerIntrinsics, LegalizeLowPrecision, Simplify, InjectThreadBindings, VectorizeLoop, StorageRewrite,
// UnrollLoop, Simplify, RemoveNoOp, VerifyLowered.
import type { IRModule, Pass } from '@kiln/ir-core';
import { definePass, KilnError, mapFunctions, sequential } from '@kiln/ir-core';
import { z } from 'zod';
import type { PrimFunc } from '../stmt.js';
import { convertBlocksToLoops } from './convert_blocks_to_loops.js';
import { flattenBuffer } from './flatten_buffer.js';
import { injectThreadBindings } from './inject_thread_bindings.js';
import { legalizeLowPrecision } from './legalize_low_precision.js';
import { lowerInitBlock } from './lower_init_block.js';
import { lowerIntrinsics } from './lower_intrinsics.js';
import { removeNoOp } from './remove_no_op.js';
import { simplifyPrimFunc } from './simplify.js';
import { storageRewrite } from './storage_rewrite.js';
import { unrollLoop } from './unroll_loop.js';
import { vectorizeLoop } from './vectorize_loop.js';
import { verifyLowered } from './verify_lowered.js';

export { convertBlocksToLoops } from './convert_blocks_to_loops.js';
export { flatExtent, flattenBuffer, isFlatBuffer, linearIndex } from './flatten_buffer.js';
export type { LaunchExtent } from './inject_thread_bindings.js';
export { injectThreadBindings, LAUNCH_ATTR, THREAD_BINDING, THREAD_TAGS } from './inject_thread_bindings.js';
export { decodeMinifloatExpr, encodeMinifloatExpr, legalizeLowPrecision } from './legalize_low_precision.js';
export { type LiftedParamStage, type LiftParamStagesResult, liftParamStages } from './lift_param_stages.js';
export { initCondition, lowerBlockInit, lowerInitBlock } from './lower_init_block.js';
export {
  CODEGEN_INTRINSICS,
  ELEMENTWISE_INTRINSICS,
  INTRINSIC_LOWERINGS,
  isTargetIntrinsic,
  lowerIntrinsics,
} from './lower_intrinsics.js';
export { removeNoOp } from './remove_no_op.js';
export type { ArithAnalyzer, SimplifyOptions } from './simplify.js';
export { constantFold, createConstantFoldAnalyzer, simplifyPrimFunc } from './simplify.js';
export type { StorageRewriteOptions } from './storage_rewrite.js';
export { storageRewrite } from './storage_rewrite.js';
export type { UnrollOptions } from './unroll_loop.js';
export { unrollLoop } from './unroll_loop.js';
export type { VectorizeOptions } from './vectorize_loop.js';
export { lanesIndependent, vectorizeLoop } from './vectorize_loop.js';
export { verifyLowered } from './verify_lowered.js';

/** Module property established by tir.ConvertBlocksToLoops. */
export const PROP_BLOCK_FREE = 'tir.block_free';
/** Module property established by tir.FlattenBuffer. */
export const PROP_FLAT_BUFFERS = 'tir.flat_buffers';
/** Module property established by tir.VerifyLowered (the end of tir.lowerForCodegen). */
export const PROP_LOWERED = 'tir.lowered';

export const LowerInitBlock = definePass<Record<string, never>, Record<string, never>, PrimFunc>({
  name: 'tir.LowerInitBlock',
  kind: 'prim_func',
  transform: (fn) => lowerInitBlock(fn),
});

export const ConvertBlocksToLoops = definePass<Record<string, never>, Record<string, never>, PrimFunc>({
  name: 'tir.ConvertBlocksToLoops',
  kind: 'prim_func',
  establishes: [PROP_BLOCK_FREE],
  transform: (fn) => convertBlocksToLoops(fn),
});

export const FlattenBuffer = definePass<Record<string, never>, Record<string, never>, PrimFunc>({
  name: 'tir.FlattenBuffer',
  kind: 'prim_func',
  establishes: [PROP_FLAT_BUFFERS],
  transform: (fn) => flattenBuffer(fn),
});

export const LowerIntrinsics = definePass<Record<string, never>, Record<string, never>, PrimFunc>({
  name: 'tir.LowerIntrinsics',
  kind: 'prim_func',
  transform: (fn) => lowerIntrinsics(fn),
});

export const LegalizeLowPrecision = definePass<Record<string, never>, Record<string, never>, PrimFunc>({
  name: 'tir.LegalizeLowPrecision',
  kind: 'prim_func',
  requires: [PROP_BLOCK_FREE],
  transform: (fn) => legalizeLowPrecision(fn),
});

export const RemoveNoOp = definePass<Record<string, never>, Record<string, never>, PrimFunc>({
  name: 'tir.RemoveNoOp',
  kind: 'prim_func',
  transform: (fn) => removeNoOp(fn),
});

export const Simplify = definePass<Record<string, never>, Record<string, never>, PrimFunc>({
  name: 'tir.Simplify',
  kind: 'prim_func',
  transform: (fn) => simplifyPrimFunc(fn),
});

const unrollSchema = z.object({ maxExtent: z.number().int().min(0).default(0) });
export const UnrollLoop = definePass<z.output<typeof unrollSchema>, z.input<typeof unrollSchema>, PrimFunc>({
  name: 'tir.UnrollLoop',
  kind: 'prim_func',
  options: unrollSchema,
  transform: (fn, _name, _ctx, opts) => unrollLoop(fn, opts),
});

const vectorizeSchema = z.object({ maxLanes: z.number().int().min(1).default(64) });
export const VectorizeLoop = definePass<
  z.output<typeof vectorizeSchema>,
  z.input<typeof vectorizeSchema>,
  PrimFunc
>({
  name: 'tir.VectorizeLoop',
  kind: 'prim_func',
  options: vectorizeSchema,
  transform: (fn, _name, _ctx, opts) => vectorizeLoop(fn, opts),
});

export const InjectThreadBindings = definePass<Record<string, never>, Record<string, never>, PrimFunc>({
  name: 'tir.InjectThreadBindings',
  kind: 'prim_func',
  transform: (fn) => injectThreadBindings(fn),
});

const storageSchema = z.object({ scopes: z.array(z.string()).default(['local', 'shared', 'global']) });
export const StorageRewrite = definePass<
  z.output<typeof storageSchema>,
  z.input<typeof storageSchema>,
  PrimFunc
>({
  name: 'tir.StorageRewrite',
  kind: 'prim_func',
  options: storageSchema,
  transform: (fn, _name, _ctx, opts) => storageRewrite(fn, opts),
});

/** Error code: a function does not meet the lowered-TIR contract. */
export const LOWERED_CONTRACT = 'LOWERED_CONTRACT';

/** Checks the lowered-TIR contract on every PrimFunc and marks the module `tir.lowered`. */
export const VerifyLowered = definePass<Record<string, never>, Record<string, never>, PrimFunc>({
  name: 'tir.VerifyLowered',
  kind: 'prim_func',
  establishes: [PROP_LOWERED],
  transform: (fn, name) => {
    const problems = verifyLowered(fn);
    if (problems.length > 0) {
      throw new KilnError(LOWERED_CONTRACT, `PrimFunc '${name}' is not in lowered form: ${problems[0]}`, {
        notes: problems.slice(1),
        details: { function: name },
      });
    }
    return fn;
  },
});

/** The default lowering sequence, in order (see the contract above). */
export const lowerForCodegen: Pass = sequential(
  [
    LowerInitBlock,
    ConvertBlocksToLoops,
    FlattenBuffer,
    LowerIntrinsics,
    LegalizeLowPrecision,
    Simplify,
    InjectThreadBindings,
    VectorizeLoop,
    StorageRewrite,
    UnrollLoop,
    Simplify,
    RemoveNoOp,
    VerifyLowered,
  ] as readonly Pass[],
  'tir.lowerForCodegen',
);

/** Options of `lowerPrimFunc` (those of the member passes). */
export interface LowerOptions {
  unroll?: { maxExtent?: number };
  vectorize?: { maxLanes?: number };
  storage?: { scopes?: readonly string[] };
  /** Check the result against the lowered-TIR contract (default true). */
  verify?: boolean;
}

/** Lower one PrimFunc with the default sequence (the pure-function form of tir.lowerForCodegen). */
export function lowerPrimFunc(fn: PrimFunc, options: LowerOptions = {}): PrimFunc {
  let f = lowerInitBlock(fn);
  f = convertBlocksToLoops(f);
  f = flattenBuffer(f);
  f = lowerIntrinsics(f);
  f = legalizeLowPrecision(f);
  f = simplifyPrimFunc(f);
  f = injectThreadBindings(f);
  f = vectorizeLoop(f, options.vectorize);
  f = storageRewrite(f, options.storage);
  f = unrollLoop(f, options.unroll);
  f = simplifyPrimFunc(f);
  f = removeNoOp(f);
  if (options.verify ?? true) {
    const problems = verifyLowered(f);
    if (problems.length > 0)
      throw new KilnError(LOWERED_CONTRACT, `lowered PrimFunc is not in lowered form: ${problems[0]}`, {
        notes: problems.slice(1),
      });
  }
  return f;
}

/** Lower every PrimFunc of a module (without the pass machinery). */
export function lowerModule(mod: IRModule, options: LowerOptions = {}): IRModule {
  return mapFunctions(mod, (f) => lowerPrimFunc(f as PrimFunc, options), 'PrimFunc');
}
