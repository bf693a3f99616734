// relax.FuseTIR: turn every call of a `Primitive` Relax function (what FuseOps lifts) into
// one call_tir of ONE PrimFunc that does the whole group: the kernels' bodies run one
// after the other in a fresh root block, the group's inputs and output are the new
// kernel's parameters, and each value passed between kernels becomes an alloc_buffer of
// the root block. Then, computeInline-like, an intermediate written by a plain spatial
// block (elementwise/broadcast/injective, one store per point) and read once by exactly
// one later spatial block is substituted into that reader and disappears; reductions are
// never inlined into (that would recompute the producer per reduction step).
// Symbolic shapes: each kernel's shape variables are bound to the dims of the actual
// arguments; variables the fused kernel cannot read from its buffers' shapes become scalar
// parameters passed as `tir_vars`.
// Requires: nothing beyond call_tir-only Primitive functions (others are left alone).
// Establishes: 'tir_fused'. Primitive functions and kernels no longer called are removed.
import type { Buffer, FieldSpec, IRModule, Node, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import {
  childrenOf,
  definePass,
  getFunction,
  irModule,
  Mutator,
  buffer as makeBuffer,
  moduleEntries,
  postOrderVisit,
  primVar,
  range,
  structuralEqual,
  substitute,
  toExpr,
} from '@kiln/ir-core';
import type { Binding, Constant, Expr, Block as RelaxBlock, RelaxFunction, StructInfo } from '@kiln/relax';
import { globalVar, op as rop, tensorShape, varBinding } from '@kiln/relax';
import type { Block, BufferRegion, PrimFunc, PrimFuncParam, Stmt } from '@kiln/tensorir';
import { block, blockRealize, bufferRegion, freeVars, primFunc, seqStmt } from '@kiln/tensorir';
import { z } from 'zod';
import { analyzeOpPattern } from './annotate-tir-op-pattern.js';
import { callTIRParts, knownTensor, mapFunctionBlocks, primFuncOf } from './util.js';

/** Copies a kernel body with fresh binders, mapping its params/shape vars through `seed`. */
class Renewer extends Mutator {
  constructor(
    seed: ReadonlyMap<Node, Node>,
    private readonly names: Set<string>,
  ) {
    super();
    for (const [k, v] of seed) this.memo.set(k, v);
  }

  private unique(name: string): string {
    let n = name;
    for (let i = 1; this.names.has(n); i++) n = `${name}_${i}`;
    this.names.add(n);
    return n;
  }

  renewBinder(c: Node): Node {
    if (c.kind === 'Var') {
      const v = c as PrimVar;
      const nv = primVar(v.name, v.dtype);
      this.memo.set(c, nv);
      return nv;
    }
    if (c.kind === 'Buffer') {
      const b = c as Buffer;
      const nb = makeBuffer(
        this.unique(b.name),
        b.dtype,
        b.shape.map((s) => this.visit(s)),
        {
          strides: b.strides.map((s) => this.visit(s)),
          elemOffset: this.visit(b.elemOffset),
          scope: b.scope,
          align: b.align,
        },
      );
      this.memo.set(c, nb);
      return nb;
    }
    return this.visit(c);
  }

  protected override visitChild(c: Node, f: FieldSpec): Node {
    if (f.type === 'binder' || f.type === 'binder[]') return this.renewBinder(c);
    return this.visit(c);
  }

  protected override visitNode(n: Node): Node {
    const out = this.defaultVisit(n);
    if (out.kind !== 'Block') return out;
    const b = out as unknown as Block;
    return block(this.uniqueBlock(b.name), b.body, {
      iterVars: b.iterVars,
      reads: b.reads,
      writes: b.writes,
      allocBuffers: b.allocBuffers,
      init: b.init,
      annotations: b.annotations,
      span: b.span,
    });
  }

  readonly blockNames = new Set<string>();
  private uniqueBlock(name: string): string {
    let n = name;
    for (let i = 1; this.blockNames.has(n); i++) n = `${name}_${i}`;
    this.blockNames.add(n);
    return n;
  }
}

interface MergedKernel {
  readonly fn: PrimFunc;
  /** Constants of the group passed as extra inputs after the group's arguments. */
  readonly extraArgs: readonly Constant[];
  /** Scalar params, as expressions over the Primitive function's symbolic vars. */
  readonly scalars: readonly PrimVar[];
  readonly out: StructInfo;
}

function tensorDims(s: StructInfo | undefined): readonly PrimExpr[] | undefined {
  const t = knownTensor(s);
  return t ? tensorShape(t) : undefined;
}

/** Merge the kernels of a Primitive function; undefined when it is not call_tir-only. */
export function mergePrimitive(
  fused: RelaxFunction,
  mod: IRModule,
  name: string,
  inline = true,
): MergedKernel | undefined {
  const body = fused.body;
  if (body.kind !== 'relax.SeqExpr') return undefined;
  const bindings: Binding[] = body.blocks.flatMap((b: RelaxBlock) => [...b.bindings]);
  const retVar = body.body;
  const names = new Set<string>();
  const uniqueName = (n: string): string => {
    let s = n;
    for (let i = 1; names.has(s); i++) s = `${n}_${i}`;
    names.add(s);
    return s;
  };

  const bufOf = new Map<Node, Buffer>();
  const params: Buffer[] = [];
  for (const p of fused.params) {
    const t = knownTensor(p.structInfo);
    if (!t) return undefined;
    const b = makeBuffer(uniqueName(`p_${p.name}`), t.dtype!, tensorShape(t)!);
    bufOf.set(p, b);
    params.push(b);
  }
  const extraArgs: Constant[] = [];
  const extraBufs: Buffer[] = [];
  const intermediates: Buffer[] = [];
  const stages: Stmt[] = [];
  const renewNames = new Set<string>();
  const blockNames = new Set<string>();
  let outBuf: Buffer | undefined;

  for (const b of bindings) {
    if (b.kind !== 'relax.VarBinding') return undefined;
    const ct = callTIRParts(b.value);
    if (!ct) return undefined;
    const pf = primFuncOf(mod, ct.callee.name);
    if (!pf) return undefined;
    const outDims = tensorDims(ct.out);
    const outT = knownTensor(ct.out);
    if (!outDims || !outT) return undefined;
    const pBufs = pf.params.filter((p): p is Buffer => p.kind === 'Buffer');
    const pScalars = pf.params.filter((p): p is PrimVar => p.kind === 'Var');
    if (pBufs.length !== ct.args.length + 1) return undefined;
    if (pScalars.length !== (ct.tirVars?.length ?? 0)) return undefined;

    const seed = new Map<Node, Node>();
    const bindDims = (pb: Buffer, dims: readonly PrimExpr[]): boolean => {
      if (pb.shape.length !== dims.length) return false;
      pb.shape.forEach((d, i) => {
        if (d.kind === 'Var' && !seed.has(d)) seed.set(d, dims[i]);
      });
      return true;
    };
    for (let j = 0; j < ct.args.length; j++) {
      const a = ct.args[j];
      let ab = bufOf.get(a);
      if (!ab && a.kind === 'relax.Constant') {
        ab = makeBuffer(uniqueName(`c${extraArgs.length}`), a.dtype, a.shape);
        bufOf.set(a, ab);
        extraArgs.push(a);
        extraBufs.push(ab);
      }
      const dims = tensorDims(a.structInfo);
      if (!ab || !dims || !bindDims(pBufs[j], dims)) return undefined;
      seed.set(pBufs[j], ab);
    }
    const pOut = pBufs[pBufs.length - 1];
    if (!bindDims(pOut, outDims)) return undefined;
    pScalars.forEach((v, k) => seed.set(v, ct.tirVars![k]));
    const isResult = b.var === retVar;
    const ob = makeBuffer(uniqueName(pOut.name), outT.dtype!, outDims);
    if (isResult) outBuf = ob;
    else intermediates.push(ob);
    seed.set(pOut, ob);
    bufOf.set(b.var, ob);
    // Shape variables of the kernel used only inside compound dims cannot be bound.
    for (const v of freeVars(pf.body, { skipHandles: true })) if (!seed.has(v)) return undefined;

    const r = new Renewer(seed, renewNames);
    for (const n of blockNames) r.blockNames.add(n);
    const root =
      pf.body.kind === 'BlockRealize' && pf.body.block.iterVars.length === 0 ? pf.body.block : undefined;
    if (root) {
      for (const a of root.allocBuffers) intermediates.push(r.renewBinder(a) as Buffer);
      stages.push(r.visit(root.body));
    } else stages.push(r.visit(pf.body));
    for (const n of r.blockNames) blockNames.add(n);
  }
  if (!outBuf) return undefined;

  let allocs = intermediates;
  let kernelStages = stages;
  if (inline) ({ stages: kernelStages, allocs } = inlineProducers(kernelStages, allocs));

  // Shape variables the kernel ABI cannot read from a bare dim of a param become scalars.
  const allParams: Buffer[] = [...params, ...extraBufs, outBuf];
  const abiDims = new Set<Node>();
  for (const p of allParams) for (const d of p.shape) if (d.kind === 'Var') abiDims.add(d);
  const rootBlock = block('root', seqStmt(kernelStages), { allocBuffers: allocs });
  const scalars: PrimVar[] = [];
  const need = (n: Node) => {
    for (const v of freeVars(n, { skipHandles: true }))
      if (!abiDims.has(v) && !scalars.includes(v)) scalars.push(v);
  };
  for (const p of allParams) for (const d of p.shape) need(d);
  need(rootBlock);
  const fparams: PrimFuncParam[] = [...allParams, ...scalars];
  let fn = primFunc(fparams, blockRealize([], true, rootBlock), {
    attrs: { global_symbol: name, 'tir.noalias': true },
  });
  fn = primFunc(fn.params, fn.body, { attrs: { ...fn.attrs, op_pattern: analyzeOpPattern(fn) } });
  return { fn, extraArgs, scalars, out: retVar.structInfo as StructInfo };
}

// ---------------------------------------------------------------- inlining

interface SimpleProducer {
  readonly value: PrimExpr;
  readonly iterVars: readonly PrimVar[];
}

function leafBlocks(s: Node): Block[] {
  const out: Block[] = [];
  postOrderVisit(s, (n) => {
    if (n.kind === 'Block') out.push(n as unknown as Block);
  });
  return out;
}

/** `for ... { block { B[v...] = value } }` over exactly B's shape, nothing else. */
function simpleProducer(stage: Stmt, buf: Buffer): SimpleProducer | undefined {
  const loops: Array<{ v: PrimVar; extent: PrimExpr }> = [];
  let s: Stmt = stage;
  while (s.kind === 'For') {
    if (s.forKind !== 'serial' || !(s.min.kind === 'IntImm' && s.min.value === 0)) return undefined;
    loops.push({ v: s.loopVar, extent: s.extent });
    s = s.body;
  }
  if (s.kind !== 'BlockRealize') return undefined;
  const b = s.block;
  if (b.init || b.allocBuffers.length > 0 || b.body.kind !== 'BufferStore') return undefined;
  if (!(s.predicate.kind === 'IntImm' && s.predicate.value === 1)) return undefined;
  const st = b.body;
  if (st.buffer !== buf || b.iterVars.length !== buf.shape.length || loops.length !== b.iterVars.length)
    return undefined;
  const ok = b.iterVars.every(
    (iv, d) =>
      iv.iterType === 'spatial' &&
      iv.dom.min.kind === 'IntImm' &&
      iv.dom.min.value === 0 &&
      structuralEqual(iv.dom.extent, buf.shape[d]) &&
      structuralEqual(loops[d].extent, buf.shape[d]) &&
      s.kind === 'BlockRealize' &&
      s.iterValues[d] === loops[d].v &&
      st.indices[d] === iv.var,
  );
  if (!ok) return undefined;
  let selfRead = false;
  postOrderVisit(st.value, (n) => {
    if (n.kind === 'Let' || (n.kind === 'BufferLoad' && (n as unknown as { buffer: Buffer }).buffer === buf))
      selfRead = true;
  });
  if (selfRead) return undefined;
  return { value: st.value, iterVars: b.iterVars.map((iv) => iv.var) };
}

function countLoads(n: Node, buf: Buffer): number {
  let c = 0;
  // Not memoized: a load node shared by two places counts twice.
  const walk = (x: Node): void => {
    if (x.kind === 'BufferLoad' && (x as unknown as { buffer: Buffer }).buffer === buf) c++;
    if (x.kind === 'Buffer') return;
    for (const ch of childrenOf(x)) walk(ch);
  };
  walk(n);
  return c;
}

/** Read regions of a block from its loads: a point where all loads agree, else the whole dim. */
function readRegionsOf(b: Block): BufferRegion[] {
  const loads = new Map<Buffer, PrimExpr[][]>();
  const written = new Set(b.writes.map((w) => w.buffer));
  const walk = (x: Node): void => {
    if (x.kind === 'BufferLoad') {
      const l = x as unknown as { buffer: Buffer; indices: readonly PrimExpr[] };
      if (!written.has(l.buffer)) {
        const arr = loads.get(l.buffer) ?? [];
        arr.push([...l.indices]);
        loads.set(l.buffer, arr);
      }
    }
    if (x.kind === 'Buffer') return;
    for (const ch of childrenOf(x)) walk(ch);
  };
  walk(b.body);
  if (b.init) walk(b.init);
  const out: BufferRegion[] = [];
  for (const [buf, idxs] of loads) {
    out.push(
      bufferRegion(
        buf,
        buf.shape.map((ext, d) => {
          const first = idxs[0][d];
          return idxs.every((ix) => ix[d] === first || structuralEqual(ix[d], first))
            ? range(first, toExpr(1, first.dtype))
            : range(toExpr(0, ext.dtype), ext);
        }),
      ),
    );
  }
  return out;
}

class LoadInliner extends Mutator {
  constructor(
    private readonly buf: Buffer,
    private readonly prod: SimpleProducer,
  ) {
    super();
  }
  protected override visitNode(n: Node): Node {
    if (n.kind === 'BufferLoad') {
      const l = this.defaultVisit(n) as unknown as { buffer: Buffer; indices: readonly PrimExpr[] };
      if (l.buffer !== this.buf) return l as unknown as Node;
      const m = new Map<Node, Node>();
      this.prod.iterVars.forEach((v, d) => m.set(v, l.indices[d]));
      return substitute(this.prod.value, m);
    }
    const out = this.defaultVisit(n);
    if (out.kind === 'Block' && out !== n) {
      const b = out as unknown as Block;
      return block(b.name, b.body, {
        iterVars: b.iterVars,
        reads: readRegionsOf(b),
        writes: b.writes,
        allocBuffers: b.allocBuffers,
        init: b.init,
        annotations: b.annotations,
        span: b.span,
      });
    }
    return out;
  }
}

/** Inline simple producers of intermediates into their single spatial reader. */
export function inlineProducers(
  stages: readonly Stmt[],
  allocs: readonly Buffer[],
): { stages: Stmt[]; allocs: Buffer[] } {
  let cur = [...stages];
  let bufs = [...allocs];
  let progress = true;
  while (progress) {
    progress = false;
    for (const buf of bufs) {
      const writers = cur.filter((s) => leafBlocks(s).some((b) => b.writes.some((w) => w.buffer === buf)));
      if (writers.length !== 1) continue;
      const prod = simpleProducer(writers[0], buf);
      if (!prod) continue;
      const readers = cur.filter((s) => s !== writers[0] && countLoads(s, buf) > 0);
      if (readers.length !== 1 || countLoads(readers[0], buf) !== 1) continue;
      const reader = readers[0];
      // Only into spatial blocks: inlining into a reduction repeats the producer per step.
      const readingBlocks = leafBlocks(reader).filter(
        (b) => countLoads(b.body, buf) + (b.init ? countLoads(b.init, buf) : 0) > 0,
      );
      if (
        readingBlocks.some((b) => b.init !== undefined || b.iterVars.some((iv) => iv.iterType !== 'spatial'))
      )
        continue;
      if (cur.indexOf(reader) < cur.indexOf(writers[0])) continue;
      const inlined = new LoadInliner(buf, prod).visit(reader);
      cur = cur.filter((s) => s !== writers[0]).map((s) => (s === reader ? inlined : s));
      bufs = bufs.filter((b) => b !== buf);
      progress = true;
      break;
    }
  }
  return { stages: cur, allocs: bufs };
}

// ---------------------------------------------------------------- the pass

function isPrimitive(f: Node | undefined): f is RelaxFunction & Node {
  if (f?.kind !== 'relax.Function') return false;
  const a = (f as unknown as RelaxFunction).attrs;
  return a.Primitive !== undefined && a.Primitive !== false && a.Primitive !== 0 && a.Composite === undefined;
}

/** Bind the Primitive function's symbolic vars to the call's argument dims. */
function bindCallDims(fused: RelaxFunction, args: readonly Expr[]): Map<Node, Node> {
  const m = new Map<Node, Node>();
  fused.params.forEach((p, i) => {
    const pd = tensorDims(p.structInfo);
    const ad = tensorDims(args[i]?.structInfo);
    if (!pd || !ad || pd.length !== ad.length) return;
    pd.forEach((d, k) => {
      if (d.kind === 'Var' && !m.has(d)) m.set(d, ad[k]);
    });
  });
  return m;
}

export interface FuseTIROptions {
  /** Inline elementwise intermediates (default true). */
  inline?: boolean;
}

export function fuseTIR(mod: IRModule, opts: FuseTIROptions = {}): IRModule {
  const merged = new Map<string, { name: string; k: MergedKernel } | null>();
  const added: Array<[string, Node]> = [];
  const taken = new Set<string>();
  let changed = false;
  const mergedFor = (name: string, fused: RelaxFunction) => {
    if (merged.has(name)) return merged.get(name);
    // The Primitive function goes away, so its kernel may take over its name.
    const kname = name;
    const k = mergePrimitive(fused, mod, kname, opts.inline ?? true);
    const entry = k ? { name: kname, k } : null;
    if (entry) {
      taken.add(kname);
      added.push([kname, entry.k.fn as unknown as Node]);
    }
    merged.set(name, entry);
    return entry;
  };
  const entries = moduleEntries(mod).map(([g, f]): [string, Node] => {
    if (f.kind !== 'relax.Function' || isPrimitive(f)) return [g, f];
    const rf = f as unknown as RelaxFunction;
    const nf = mapFunctionBlocks(rf, (blk) => {
      let blockChanged = false;
      const out = blk.bindings.map((b) => {
        const v = b.value;
        if (b.kind !== 'relax.VarBinding' || v.kind !== 'relax.Call' || v.op.kind !== 'relax.GlobalVar')
          return b;
        const callee = getFunction(mod, v.op.name);
        if (!isPrimitive(callee)) return b;
        const m = mergedFor(v.op.name, callee as unknown as RelaxFunction);
        if (!m) return b;
        const dims = bindCallDims(callee as unknown as RelaxFunction, v.args);
        const tirVars = m.k.scalars.map((s) => substitute(s as PrimExpr, dims) as PrimExpr);
        const out = substitute(m.k.out as unknown as Node, dims) as unknown as StructInfo;
        const c = rop.callTIR(
          globalVar(m.name),
          [...v.args, ...m.k.extraArgs],
          out,
          tirVars.length ? tirVars : undefined,
        );
        blockChanged = true;
        return varBinding(b.var, Object.freeze({ ...c, structInfo: b.var.structInfo }), b.span);
      });
      return blockChanged ? (Object.freeze({ ...blk, bindings: Object.freeze(out) }) as RelaxBlock) : blk;
    });
    if (nf !== rf) changed = true;
    return [g, nf as unknown as Node];
  });
  if (!changed) return mod;
  // A merged Primitive function is replaced by its kernel, which took over its name.
  const kept = entries.filter(([g]) => !merged.get(g));
  const formerCallees = new Set<string>();
  for (const [g, e] of merged) {
    if (!e) continue;
    postOrderVisit(getFunction(mod, g)!, (n) => {
      if (n.kind === 'relax.GlobalVar') formerCallees.add((n as unknown as { name: string }).name);
    });
  }
  return removeUnreferenced(irModule([...kept, ...added], mod.attrs), formerCallees);
}

/** Drop the kernels only the merged Primitive functions called, once nothing else does. */
function removeUnreferenced(mod: IRModule, formerCallees: ReadonlySet<string>): IRModule {
  const refs = new Set<string>();
  for (const f of mod.funcs) {
    if (f.kind !== 'relax.Function') continue;
    postOrderVisit(f, (n) => {
      if (n.kind === 'relax.GlobalVar') refs.add((n as unknown as { name: string }).name);
    });
  }
  const keep = moduleEntries(mod).filter(([g]) => !formerCallees.has(g) || refs.has(g));
  return keep.length === mod.globals.length ? mod : irModule(keep, mod.attrs);
}

const fuseTIROptions = z.object({
  /** Inline elementwise intermediates into their reader. */
  inline: z.boolean().default(true),
});

export const FuseTIR = definePass<z.output<typeof fuseTIROptions>, z.input<typeof fuseTIROptions>>({
  name: 'relax.FuseTIR',
  kind: 'module',
  establishes: ['tir_fused'],
  options: fuseTIROptions,
  run(mod: IRModule, _ctx, o) {
    return fuseTIR(mod, o);
  },
});
