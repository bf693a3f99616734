// The Schedule: the current PrimFunc (replaced, never mutated, by each primitive), the
// random variables that name its blocks and loops, and the trace of every call. Blocks
// are resolved by name and loops by their loop variable, so a handle stays valid until
// a primitive removes what it names.
import type { AttrValue, IRModule, Var } from '@kiln/ir-core';
import {
  ErrorCodes,
  freezeNode,
  KilnError,
  lookupFunction,
  primVar,
  substitute,
  withFunction,
} from '@kiln/ir-core';
import type { Block, BlockRealize, For, PrimFunc, Stmt } from '@kiln/tensorir';
import { block, blockRealize } from '@kiln/tensorir';
import { ScheduleErrorCodes as C, fail } from './errors.js';
import type { TensorIntrinRegistry } from './intrin.js';
import { createTensorIntrinRegistry } from './intrin.js';
import { blockize, tensorizeBlock, tensorizeLoop } from './primitives/blockize.js';
import { cacheRead, cacheWrite, setScope, storageAlign } from './primitives/cache.js';
import { computeAt, computeInline, reverseComputeAt, reverseComputeInline } from './primitives/compute.js';
import { annotateBlock, annotateLoop, fuse, reorder, setLoopKind, split } from './primitives/loops.js';
import { decomposeReduction, rfactor } from './primitives/reduction.js';
import type { Rng } from './sampling.js';
import { checkPerfectTile, createRng, sampleCategoricalIndex, samplePerfectTileFactors } from './sampling.js';
import { checkThreadLocality } from './threads.js';
import type { Instruction, InstructionKind, RV, TraceArg } from './trace.js';
import { BlockRV, ExprRV, isRV, LoopRV, Trace } from './trace.js';
import { allBlocks, TreeIndex, transformStmt } from './tree.js';

export interface ScheduleOptions {
  /** Seed of the sampling instructions (default 1). */
  seed?: number;
  /** Tensor intrinsics for tensorize; the schedule works on its own copy. Default: the built-ins. */
  intrinsics?: TensorIntrinRegistry;
}

export type ScheduleTarget = PrimFunc | { readonly mod: IRModule; readonly name: string };

/** Give a function without a root block one, so that every block has a scope to allocate in. */
function withRootBlock(fn: PrimFunc): PrimFunc {
  if (fn.body.kind === 'BlockRealize' && fn.body.block.iterVars.length === 0) return fn;
  return Object.freeze({ ...fn, body: blockRealize([], true, block('root', fn.body)) });
}

/**
 * Blocks are named uniquely (handles resolve by name) and every loop has its own loop
 * variable (handles resolve by variable); hand-built TIR that reuses a variable gets a
 * fresh one, deterministically, so replays normalize the same way.
 */
function normalizeFunction(fn: PrimFunc): PrimFunc {
  const names = new Set<string>();
  for (const r of allBlocks(fn.body)) {
    if (names.has(r.block.name))
      throw new KilnError(C.SCHEDULE_ERROR, `createSchedule: two blocks are named '${r.block.name}'`);
    names.add(r.block.name);
  }
  const seen = new Set<Var>();
  const body = transformStmt(fn.body, function visit(s: Stmt): Stmt | null | undefined {
    if (s.kind !== 'For') return undefined;
    let loop = s;
    if (seen.has(s.loopVar)) {
      const v = primVar(s.loopVar.name, s.loopVar.dtype);
      loop = freezeNode({ ...s, loopVar: v, body: substitute(s.body, new Map([[s.loopVar, v]])) });
    }
    seen.add(loop.loopVar);
    const b = transformStmt(loop.body, visit)!;
    return b === loop.body ? loop : freezeNode({ ...loop, body: b });
  });
  return body === fn.body ? fn : Object.freeze({ ...fn, body: body! });
}

type Factor = number | ExprRV | undefined | null;

export class Schedule {
  private fn: PrimFunc;
  private readonly srcMod?: IRModule;
  private readonly globalName?: string;
  private readonly blocks = new Map<BlockRV, string>();
  private readonly loops = new Map<LoopRV, Var>();
  private readonly exprs = new Map<ExprRV, number>();
  private readonly insts: Instruction[] = [];
  private rng: Rng;
  private nextId = 1;
  readonly intrinsics: TensorIntrinRegistry;
  readonly seed: number;

  constructor(target: ScheduleTarget, opts: ScheduleOptions = {}) {
    if ('mod' in target) {
      const f = lookupFunction(target.mod, target.name);
      if (f.kind !== 'PrimFunc')
        throw new KilnError(
          ErrorCodes.INVALID_ARGUMENT,
          `global '${target.name}' is a ${f.kind}, not a PrimFunc`,
        );
      this.fn = withRootBlock(f as PrimFunc);
      this.srcMod = target.mod;
      this.globalName = target.name;
    } else this.fn = withRootBlock(target);
    this.fn = normalizeFunction(this.fn);
    this.seed = opts.seed ?? 1;
    this.rng = createRng(this.seed);
    this.intrinsics = (opts.intrinsics ?? createTensorIntrinRegistry()).clone();
  }

  /** An independent schedule in the same state (function, handles, trace, sampler). */
  copy(): Schedule {
    const c = Object.create(Schedule.prototype) as Schedule;
    const self = this as unknown as Record<string, unknown>;
    Object.assign(c, self, {
      blocks: new Map(this.blocks),
      loops: new Map(this.loops),
      exprs: new Map(this.exprs),
      insts: [...this.insts],
      rng: this.rng.copy(),
      intrinsics: this.intrinsics.clone(),
    });
    return c;
  }

  /** The current function. */
  get func(): PrimFunc {
    return this.fn;
  }

  /** The module with the scheduled function in place (when built from a module). */
  get mod(): IRModule | undefined {
    return this.srcMod && this.globalName ? withFunction(this.srcMod, this.globalName, this.fn) : undefined;
  }
  /** Same as `mod`. */
  get module(): IRModule | undefined {
    return this.mod;
  }

  get trace(): Trace {
    return new Trace([...this.insts]);
  }

  registerTensorIntrin(name: string, desc: PrimFunc, impl: PrimFunc): void {
    this.intrinsics.register(name, desc, impl);
  }

  // ------------------------------------------------------------ handles

  private fresh<T extends RV>(ctor: new (id: number) => T): T {
    return new ctor(this.nextId++);
  }
  private newBlock(name: string): BlockRV {
    const rv = this.fresh(BlockRV);
    this.blocks.set(rv, name);
    return rv;
  }
  private newLoop(v: Var): LoopRV {
    const rv = this.fresh(LoopRV);
    this.loops.set(rv, v);
    return rv;
  }

  private realizeOf(rv: BlockRV, prim: string, idx = new TreeIndex(this.fn.body)): BlockRealize {
    const name = this.blocks.get(rv);
    if (name === undefined)
      fail(C.SCHEDULE_INVALID_RV, prim, `block handle #${rv.id} does not belong to this schedule`);
    const r = idx.blocks.get(name);
    if (!r) fail(C.SCHEDULE_INVALID_RV, prim, `block '${name}' no longer exists`);
    return r;
  }
  private loopOf(rv: LoopRV, prim: string, idx = new TreeIndex(this.fn.body)): For {
    const v = this.loops.get(rv);
    if (v === undefined)
      fail(C.SCHEDULE_INVALID_RV, prim, `loop handle #${rv.id} does not belong to this schedule`);
    const l = idx.loops.get(v);
    if (!l)
      fail(C.SCHEDULE_INVALID_RV, prim, `loop '${v.name}' no longer exists (it was split, fused or moved)`);
    return l;
  }
  private exprOf(rv: ExprRV, prim: string): number {
    const v = this.exprs.get(rv);
    if (v === undefined)
      fail(C.SCHEDULE_INVALID_RV, prim, `expression handle #${rv.id} does not belong to this schedule`);
    return v;
  }

  /** The node or value a handle currently stands for. */
  get(rv: BlockRV): Block;
  get(rv: LoopRV): For;
  get(rv: ExprRV): number;
  get(rv: RV): Block | For | number {
    if (rv instanceof BlockRV) return this.realizeOf(rv, 'get').block;
    if (rv instanceof LoopRV) return this.loopOf(rv, 'get');
    return this.exprOf(rv, 'get');
  }

  /** The block realize a block handle stands for (with its bindings and predicate). */
  getRealize(rv: BlockRV): BlockRealize {
    return this.realizeOf(rv, 'getRealize');
  }

  // ------------------------------------------------------------ instruction dispatch

  /** Commit a primitive's result, unless it makes a block read another thread's memory. */
  private commit(prim: string, next: PrimFunc): void {
    if (next !== this.fn) checkThreadLocality(this.fn, next, prim);
    this.fn = next;
  }

  private record(
    kind: InstructionKind,
    inputs: readonly TraceArg[],
    attrs: Record<string, AttrValue>,
    outputs: readonly RV[],
    decision?: AttrValue,
  ): void {
    const inst: Instruction = {
      kind,
      inputs: Object.freeze([...inputs]),
      attrs: Object.freeze({ ...attrs }),
      outputs: Object.freeze([...outputs]),
      ...(decision !== undefined ? { decision } : {}),
    };
    this.insts.push(Object.freeze(inst));
  }

  private target(rv: BlockRV | LoopRV, prim: string): { block?: BlockRealize; loop?: For } {
    if (rv instanceof BlockRV) return { block: this.realizeOf(rv, prim) };
    if (rv instanceof LoopRV) return { loop: this.loopOf(rv, prim) };
    return fail(C.SCHEDULE_INVALID_RV, prim, 'expected a block or loop handle');
  }

  // ------------------------------------------------------------ queries

  getBlock(name: string): BlockRV {
    const idx = new TreeIndex(this.fn.body);
    const r = idx.blocks.get(name);
    if (!r || name === 'root') {
      const names = [...idx.blocks.keys()].filter((n) => n !== 'root');
      fail(
        C.SCHEDULE_UNKNOWN_BLOCK,
        'getBlock',
        `no block named '${name}' (blocks: ${names.join(', ') || 'none'})`,
      );
    }
    const rv = this.newBlock(name);
    this.record('getBlock', [], { name }, [rv]);
    return rv;
  }

  getLoops(blockRV: BlockRV): LoopRV[] {
    const idx = new TreeIndex(this.fn.body);
    const r = this.realizeOf(blockRV, 'getLoops', idx);
    const out = idx.loopsAbove(r).map((l) => this.newLoop(l.loopVar));
    this.record('getLoops', [blockRV], {}, out);
    return out;
  }

  getChildBlocks(parent: BlockRV | LoopRV): BlockRV[] {
    const idx = new TreeIndex(this.fn.body);
    const t = this.target(parent, 'getChildBlocks');
    const under = idx.childBlocks((t.block ?? t.loop)!);
    const out = under.map((r) => this.newBlock(r.block.name));
    this.record('getChildBlocks', [parent], {}, out);
    return out;
  }

  /** Blocks of the same scope that write what `block` reads (in execution order). */
  getProducers(blockRV: BlockRV): BlockRV[] {
    const out = this.neighbours(blockRV, 'getProducers', (me, other) =>
      me.reads.some((r) => other.writes.some((w) => w.buffer === r.buffer)),
    );
    this.record('getProducers', [blockRV], {}, out);
    return out;
  }

  /** Blocks of the same scope that read what `block` writes (in execution order). */
  getConsumers(blockRV: BlockRV): BlockRV[] {
    const out = this.neighbours(blockRV, 'getConsumers', (me, other) =>
      me.writes.some((w) => other.reads.some((r) => r.buffer === w.buffer)),
    );
    this.record('getConsumers', [blockRV], {}, out);
    return out;
  }

  private neighbours(
    blockRV: BlockRV,
    prim: string,
    related: (me: Block, other: Block) => boolean,
  ): BlockRV[] {
    const idx = new TreeIndex(this.fn.body);
    const r = this.realizeOf(blockRV, prim, idx);
    const scope = idx.scopeBlock(r);
    const siblings = scope ? idx.childBlocks(scope) : [];
    return siblings
      .filter((o) => o !== r && related(r.block, o.block))
      .map((o) => this.newBlock(o.block.name));
  }

  // ------------------------------------------------------------ loops

  /** Split a loop; one factor may be `undefined`/`null` (inferred). Factors may be sampled ExprRVs. */
  split(loop: LoopRV, factors: readonly Factor[]): LoopRV[] {
    const l = this.loopOf(loop, 'split');
    const fs = factors.map((f) => (f instanceof ExprRV ? this.exprOf(f, 'split') : (f ?? undefined)));
    const res = split(this.fn, l, fs);
    this.commit('split', res.fn);
    const out = res.loops.map((v) => this.newLoop(v));
    this.record('split', [loop, factors.map((f) => f ?? null)], {}, out);
    return out;
  }

  fuse(...loops: LoopRV[]): LoopRV {
    const ls = loops.map((l) => this.loopOf(l, 'fuse'));
    const res = fuse(this.fn, ls);
    this.commit('fuse', res.fn);
    const out = this.newLoop(res.loop);
    this.record('fuse', loops, {}, [out]);
    return out;
  }

  reorder(...loops: LoopRV[]): void {
    const ls = loops.map((l) => this.loopOf(l, 'reorder'));
    this.commit('reorder', reorder(this.fn, ls));
    this.record('reorder', loops, {}, []);
  }

  parallel(loop: LoopRV): void {
    this.commit('parallel', setLoopKind(this.fn, this.loopOf(loop, 'parallel'), 'parallel'));
    this.record('parallel', [loop], {}, []);
  }

  vectorize(loop: LoopRV): void {
    this.commit('vectorize', setLoopKind(this.fn, this.loopOf(loop, 'vectorize'), 'vectorized'));
    this.record('vectorize', [loop], {}, []);
  }

  unroll(loop: LoopRV): void {
    this.commit('unroll', setLoopKind(this.fn, this.loopOf(loop, 'unroll'), 'unrolled'));
    this.record('unroll', [loop], {}, []);
  }

  /** Bind a loop to a GPU thread axis (`blockIdx.x`, `threadIdx.y`, `vthread`, ...). */
  bind(loop: LoopRV, thread: string): void {
    this.commit('bind', setLoopKind(this.fn, this.loopOf(loop, 'bind'), 'thread_binding', thread));
    this.record('bind', [loop], { thread }, []);
  }

  // ------------------------------------------------------------ memory

  cacheRead(blockRV: BlockRV, readBufferIndex: number, scope: string): BlockRV {
    const res = cacheRead(this.fn, this.realizeOf(blockRV, 'cacheRead'), readBufferIndex, scope);
    this.commit('cacheRead', res.fn);
    const out = this.newBlock(res.block);
    this.record('cacheRead', [blockRV], { index: readBufferIndex, scope }, [out]);
    return out;
  }

  cacheWrite(blockRV: BlockRV, writeBufferIndex: number, scope: string): BlockRV {
    const res = cacheWrite(this.fn, this.realizeOf(blockRV, 'cacheWrite'), writeBufferIndex, scope);
    this.commit('cacheWrite', res.fn);
    const out = this.newBlock(res.block);
    this.record('cacheWrite', [blockRV], { index: writeBufferIndex, scope }, [out]);
    return out;
  }

  setScope(blockRV: BlockRV, bufferIndex: number, scope: string): void {
    this.commit('setScope', setScope(this.fn, this.realizeOf(blockRV, 'setScope'), bufferIndex, scope));
    this.record('setScope', [blockRV], { index: bufferIndex, scope }, []);
  }

  storageAlign(blockRV: BlockRV, bufferIndex: number, axis: number, factor: number, offset: number): void {
    this.commit(
      'storageAlign',
      storageAlign(this.fn, this.realizeOf(blockRV, 'storageAlign'), bufferIndex, axis, factor, offset),
    );
    this.record('storageAlign', [blockRV], { index: bufferIndex, axis, factor, offset }, []);
  }

  // ------------------------------------------------------------ compute location

  computeAt(blockRV: BlockRV, loop: LoopRV): void {
    const idx = new TreeIndex(this.fn.body);
    this.commit(
      'computeAt',
      computeAt(this.fn, this.realizeOf(blockRV, 'computeAt', idx), this.loopOf(loop, 'computeAt', idx)),
    );
    this.record('computeAt', [blockRV, loop], {}, []);
  }

  reverseComputeAt(blockRV: BlockRV, loop: LoopRV): void {
    const idx = new TreeIndex(this.fn.body);
    this.commit(
      'reverseComputeAt',
      reverseComputeAt(
        this.fn,
        this.realizeOf(blockRV, 'reverseComputeAt', idx),
        this.loopOf(loop, 'reverseComputeAt', idx),
      ),
    );
    this.record('reverseComputeAt', [blockRV, loop], {}, []);
  }

  computeInline(blockRV: BlockRV): void {
    this.commit('computeInline', computeInline(this.fn, this.realizeOf(blockRV, 'computeInline')));
    this.record('computeInline', [blockRV], {}, []);
  }

  reverseComputeInline(blockRV: BlockRV): void {
    this.commit(
      'reverseComputeInline',
      reverseComputeInline(this.fn, this.realizeOf(blockRV, 'reverseComputeInline')),
    );
    this.record('reverseComputeInline', [blockRV], {}, []);
  }

  // ------------------------------------------------------------ reductions

  decomposeReduction(blockRV: BlockRV, loop: LoopRV): BlockRV {
    const idx = new TreeIndex(this.fn.body);
    const res = decomposeReduction(
      this.fn,
      this.realizeOf(blockRV, 'decomposeReduction', idx),
      this.loopOf(loop, 'decomposeReduction', idx),
    );
    this.commit('decomposeReduction', res.fn);
    const out = this.newBlock(res.block);
    this.record('decomposeReduction', [blockRV, loop], {}, [out]);
    return out;
  }

  rfactor(loop: LoopRV, factorAxis: number): BlockRV {
    const res = rfactor(this.fn, this.loopOf(loop, 'rfactor'), factorAxis);
    this.commit('rfactor', res.fn);
    const out = this.newBlock(res.block);
    this.record('rfactor', [loop], { factorAxis }, [out]);
    return out;
  }

  // ------------------------------------------------------------ blocks and intrinsics

  blockize(loop: LoopRV): BlockRV {
    const res = blockize(this.fn, this.loopOf(loop, 'blockize'));
    this.commit('blockize', res.fn);
    const out = this.newBlock(res.block);
    this.record('blockize', [loop], {}, [out]);
    return out;
  }

  tensorize(target: BlockRV | LoopRV, intrinName: string): void {
    const intrin = this.intrinsics.get(intrinName);
    const t = this.target(target, 'tensorize');
    this.commit(
      'tensorize',
      t.loop ? tensorizeLoop(this.fn, t.loop, intrin) : tensorizeBlock(this.fn, t.block!, intrin),
    );
    this.record('tensorize', [target], { intrin: intrinName }, []);
  }

  annotate(target: BlockRV | LoopRV, key: string, value: AttrValue): void {
    const t = this.target(target, 'annotate');
    this.commit(
      'annotate',
      t.loop ? annotateLoop(this.fn, t.loop, key, value) : annotateBlock(this.fn, t.block!, key, value),
    );
    this.record('annotate', [target], { key, value }, []);
  }

  // ------------------------------------------------------------ sampling

  /** Sample `n` tile sizes whose product is the loop's (constant) extent; replay reuses `decision`. */
  samplePerfectTile(loop: LoopRV, n: number, maxInnermost?: number, decision?: readonly number[]): ExprRV[] {
    const l = this.loopOf(loop, 'samplePerfectTile');
    if (l.extent.kind !== 'IntImm')
      fail(C.SCHEDULE_ERROR, 'samplePerfectTile', `loop '${l.loopVar.name}' has a symbolic extent`);
    const extent = l.extent.value;
    let fs: number[];
    if (decision) {
      if (!checkPerfectTile(extent, n, maxInnermost, decision)) {
        fail(
          C.SCHEDULE_ERROR,
          'samplePerfectTile',
          `decision [${decision.join(', ')}] is not a perfect tiling of loop '${l.loopVar.name}' (extent ${extent}) into ${n}`,
        );
      }
      fs = [...decision];
    } else fs = samplePerfectTileFactors(this.rng, extent, n, maxInnermost);
    const out = fs.map((f) => {
      const rv = this.fresh(ExprRV);
      this.exprs.set(rv, f);
      return rv;
    });
    const attrs: Record<string, AttrValue> = { n };
    if (maxInnermost !== undefined) attrs.maxInnermost = maxInnermost;
    this.record('samplePerfectTile', [loop], attrs, out, fs);
    return out;
  }

  /** Pick one of `candidates` with probabilities `probs`; replay reuses `decision` (an index). */
  sampleCategorical(candidates: readonly number[], probs: readonly number[], decision?: number): ExprRV {
    if (candidates.length === 0 || candidates.length !== probs.length || probs.some((p) => !(p >= 0))) {
      fail(
        C.SCHEDULE_ERROR,
        'sampleCategorical',
        `needs as many non-negative probabilities as candidates (${candidates.length} vs ${probs.length})`,
      );
    }
    if (
      decision !== undefined &&
      (!Number.isInteger(decision) || decision < 0 || decision >= candidates.length)
    ) {
      fail(C.SCHEDULE_ERROR, 'sampleCategorical', `decision ${decision} is not a candidate index`);
    }
    const k = decision ?? sampleCategoricalIndex(this.rng, probs);
    const rv = this.fresh(ExprRV);
    this.exprs.set(rv, candidates[k]);
    this.record('sampleCategorical', [], { candidates: [...candidates], probs: [...probs] }, [rv], k);
    return rv;
  }

  // ------------------------------------------------------------ replay

  /** Apply one instruction of another trace, mapping its random variables through `env`. */
  applyInstruction(inst: Instruction, env: Map<RV, RV>): void {
    const m = (x: TraceArg): TraceArg => {
      if (isRV(x)) {
        const y = env.get(x);
        if (!y)
          fail(
            C.SCHEDULE_INVALID_RV,
            'applyTrace',
            `instruction '${inst.kind}' uses a random variable defined by no earlier instruction`,
          );
        return y;
      }
      return Array.isArray(x) ? x.map(m) : x;
    };
    const ins = inst.inputs.map(m);
    const a = inst.attrs;
    const num = (k: string): number => {
      const v = a[k];
      if (typeof v !== 'number')
        fail(C.TRACE_PARSE, 'applyTrace', `instruction '${inst.kind}' needs a numeric '${k}'`);
      return v;
    };
    const str = (k: string): string => {
      const v = a[k];
      if (typeof v !== 'string')
        fail(C.TRACE_PARSE, 'applyTrace', `instruction '${inst.kind}' needs a string '${k}'`);
      return v;
    };
    const blk = (x: TraceArg): BlockRV =>
      x instanceof BlockRV
        ? x
        : fail(C.TRACE_PARSE, 'applyTrace', `instruction '${inst.kind}' expects a block handle`);
    const lp = (x: TraceArg): LoopRV =>
      x instanceof LoopRV
        ? x
        : fail(C.TRACE_PARSE, 'applyTrace', `instruction '${inst.kind}' expects a loop handle`);
    const bl = (x: TraceArg): BlockRV | LoopRV =>
      x instanceof BlockRV || x instanceof LoopRV
        ? x
        : fail(C.TRACE_PARSE, 'applyTrace', `instruction '${inst.kind}' expects a block or loop handle`);
    let outs: RV[] = [];
    switch (inst.kind) {
      case 'getBlock':
        outs = [this.getBlock(str('name'))];
        break;
      case 'getLoops':
        outs = this.getLoops(blk(ins[0]));
        break;
      case 'getChildBlocks':
        outs = this.getChildBlocks(bl(ins[0]));
        break;
      case 'getProducers':
        outs = this.getProducers(blk(ins[0]));
        break;
      case 'getConsumers':
        outs = this.getConsumers(blk(ins[0]));
        break;
      case 'split': {
        const fs = ins[1];
        if (!Array.isArray(fs)) fail(C.TRACE_PARSE, 'applyTrace', 'split needs a list of factors');
        outs = this.split(
          lp(ins[0]),
          (fs as readonly TraceArg[]).map((f) =>
            f === null || typeof f === 'number' || f instanceof ExprRV
              ? f
              : fail(C.TRACE_PARSE, 'applyTrace', 'bad split factor'),
          ),
        );
        break;
      }
      case 'fuse':
        outs = [this.fuse(...ins.map(lp))];
        break;
      case 'reorder':
        this.reorder(...ins.map(lp));
        break;
      case 'parallel':
        this.parallel(lp(ins[0]));
        break;
      case 'vectorize':
        this.vectorize(lp(ins[0]));
        break;
      case 'unroll':
        this.unroll(lp(ins[0]));
        break;
      case 'bind':
        this.bind(lp(ins[0]), str('thread'));
        break;
      case 'cacheRead':
        outs = [this.cacheRead(blk(ins[0]), num('index'), str('scope'))];
        break;
      case 'cacheWrite':
        outs = [this.cacheWrite(blk(ins[0]), num('index'), str('scope'))];
        break;
      case 'setScope':
        this.setScope(blk(ins[0]), num('index'), str('scope'));
        break;
      case 'storageAlign':
        this.storageAlign(blk(ins[0]), num('index'), num('axis'), num('factor'), num('offset'));
        break;
      case 'computeAt':
        this.computeAt(blk(ins[0]), lp(ins[1]));
        break;
      case 'reverseComputeAt':
        this.reverseComputeAt(blk(ins[0]), lp(ins[1]));
        break;
      case 'computeInline':
        this.computeInline(blk(ins[0]));
        break;
      case 'reverseComputeInline':
        this.reverseComputeInline(blk(ins[0]));
        break;
      case 'decomposeReduction':
        outs = [this.decomposeReduction(blk(ins[0]), lp(ins[1]))];
        break;
      case 'rfactor':
        outs = [this.rfactor(lp(ins[0]), num('factorAxis'))];
        break;
      case 'blockize':
        outs = [this.blockize(lp(ins[0]))];
        break;
      case 'tensorize':
        this.tensorize(bl(ins[0]), str('intrin'));
        break;
      case 'annotate':
        this.annotate(bl(ins[0]), str('key'), a.value ?? null);
        break;
      case 'samplePerfectTile': {
        const d = inst.decision;
        const dec = Array.isArray(d) && d.every((x) => typeof x === 'number') ? (d as number[]) : undefined;
        outs = this.samplePerfectTile(
          lp(ins[0]),
          num('n'),
          typeof a.maxInnermost === 'number' ? a.maxInnermost : undefined,
          dec,
        );
        break;
      }
      case 'sampleCategorical': {
        const cands = a.candidates;
        const probs = a.probs;
        if (!Array.isArray(cands) || !Array.isArray(probs))
          fail(C.TRACE_PARSE, 'applyTrace', 'sampleCategorical needs candidates and probs lists');
        outs = [
          this.sampleCategorical(
            cands as number[],
            probs as number[],
            typeof inst.decision === 'number' ? inst.decision : undefined,
          ),
        ];
        break;
      }
    }
    if (outs.length !== inst.outputs.length) {
      fail(
        C.SCHEDULE_ERROR,
        'applyTrace',
        `instruction '${inst.kind}' produced ${outs.length} results where the trace has ${inst.outputs.length}`,
      );
    }
    inst.outputs.forEach((o, i) => {
      env.set(o, outs[i]);
    });
  }
}

export function createSchedule(target: ScheduleTarget, opts: ScheduleOptions = {}): Schedule {
  return new Schedule(target, opts);
}

/** Replay `trace` on a fresh function (or module function); returns the new schedule. */
export function applyTrace(trace: Trace, target: ScheduleTarget, opts: ScheduleOptions = {}): Schedule {
  const sch = new Schedule(target, opts);
  const env = new Map<RV, RV>();
  for (const inst of trace.instructions) sch.applyInstruction(inst, env);
  return sch;
}
