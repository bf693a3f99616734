// createPrimFunc: te stages → block-structured TIR (TVM's create_prim_func).
// One Block per compute stage (spatial + reduce iter vars, init for reductions, point
// read/write regions), a loop nest around each BlockRealize, intermediates as
// alloc_buffers of the root block named 'root'. Symbolic vars that the input shapes do
// not define become scalar Var params after the tensor params.
import type { Attrs, Buffer, BufferLoad, ExprLike, Node, PrimExpr, Range, Var } from '@kiln/ir-core';
import {
  add,
  bufferLoad,
  DType,
  ErrorCodes,
  isConstInt,
  KilnError,
  buffer as makeBuffer,
  primVar,
  range,
  structuralEqual,
  substitute,
  toExpr,
} from '@kiln/ir-core';
import { collectBufferAccesses, freeVars } from '../analysis/vars.js';
import type { BufferRegion, IterVar, PrimFunc, PrimFuncParam, Stmt } from '../stmt.js';
import {
  block,
  blockRealize,
  bufferRegion,
  bufferStore,
  forLoop,
  ifThenElse,
  iterVar,
  letStmt,
  primFunc,
  seqStmt,
} from '../stmt.js';
import type { ComputeOp, Operation, Tensor } from './tensor.js';
import { reduceAxisDom } from './tensor.js';

export interface CreatePrimFuncOptions {
  /** The function's `global_symbol` (default 'main'). */
  name?: string;
  /** Extra function attributes. */
  attrs?: Attrs;
}

function isTensor(x: Tensor | Var): x is Tensor {
  return 'op' in x;
}

/**
 * Build a PrimFunc from te tensors: `args` lists the inputs (placeholders) and outputs
 * (computes) in parameter order; scalar Vars may be listed too. Every placeholder the
 * outputs depend on must be in `args`.
 */
export function createPrimFunc(
  args: ReadonlyArray<Tensor | Var>,
  opts: CreatePrimFuncOptions = {},
): PrimFunc {
  const fname = opts.name ?? 'main';
  const argTensors = args.filter(isTensor);
  const argSet = new Set<Tensor>(argTensors);
  if (argSet.size !== argTensors.length)
    throw new KilnError(
      ErrorCodes.DUPLICATE_NAME,
      `createPrimFunc '${fname}': a tensor is listed twice in the arguments`,
    );

  // Topological order of the stages the arguments need.
  const order: Operation[] = [];
  const visited = new Set<Operation>();
  const visit = (op: Operation): void => {
    if (visited.has(op)) return;
    visited.add(op);
    if (op.kind === 'compute') for (const t of op.inputs) visit(t.op);
    order.push(op);
  };
  for (const t of argTensors) visit(t.op);
  for (const op of order) {
    if (op.kind === 'placeholder' && !argTensors.some((t) => t.op === op)) {
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `createPrimFunc '${fname}': placeholder '${op.name}' is used but not in the argument list`,
      );
    }
  }

  // Final buffers: unique names (a function's buffers are printed and parsed by name).
  const usedNames = new Set<string>();
  const bufMap = new Map<Node, Node>();
  const finalBuffer = (t: Tensor): Buffer => {
    const hit = bufMap.get(t.buffer);
    if (hit) return hit as Buffer;
    let name = t.buffer.name;
    for (let i = 1; usedNames.has(name); i++) name = `${t.buffer.name}_${i}`;
    usedNames.add(name);
    const b = name === t.buffer.name ? t.buffer : makeBuffer(name, t.dtype, t.shape);
    bufMap.set(t.buffer, b);
    return b;
  };
  const params: PrimFuncParam[] = [];
  for (const a of args) params.push(isTensor(a) ? finalBuffer(a) : a);
  const intermediates: Buffer[] = [];
  for (const op of order) {
    if (op.kind !== 'compute') continue;
    for (const t of op.outputs) if (!argSet.has(t)) intermediates.push(finalBuffer(t));
  }

  // Vars defined by the caller: bare dims of input shapes and explicit scalar args.
  const defined = new Set<Var>();
  for (const a of args) {
    if (!isTensor(a)) defined.add(a);
    else if (a.op.kind === 'placeholder') for (const s of a.shape) if (s.kind === 'Var') defined.add(s);
  }
  const extraParams: Var[] = [];
  const need = (e: Node): void => {
    // Free vars only: a `letExpr` binder inside a body is not a parameter.
    for (const v of freeVars(e, { skipHandles: true })) {
      if (defined.has(v) || stageVars.has(v)) continue;
      defined.add(v);
      extraParams.push(v);
    }
  };
  const stageVars = new Set<Var>();
  for (const op of order) {
    if (op.kind !== 'compute') continue;
    for (const v of op.axis) stageVars.add(v);
    if (op.body.kind === 'reduce') for (const v of op.body.reduce.axes) stageVars.add(v);
  }
  for (const a of argTensors) for (const s of a.shape) need(s);
  for (const b of intermediates) for (const s of b.shape) need(s);

  const blockNames = new Set<string>();
  const stages: Stmt[] = [];
  for (const op of order) {
    if (op.kind !== 'compute') continue;
    let name = op.name;
    for (let i = 1; blockNames.has(name); i++) name = `${op.name}_${i}`;
    blockNames.add(name);
    stages.push(buildStage(op, name, finalBuffer, bufMap, need));
  }

  const root = block('root', seqStmt(stages), { allocBuffers: intermediates });
  return primFunc([...params, ...extraParams], blockRealize([], true, root), {
    attrs: { global_symbol: fname, 'tir.noalias': true, ...(opts.attrs ?? {}) },
  });
}

function buildStage(
  op: ComputeOp,
  name: string,
  finalBuffer: (t: Tensor) => Buffer,
  bufMap: ReadonlyMap<Node, Node>,
  need: (e: Node) => void,
): Stmt {
  const subst = new Map<Node, Node>(bufMap);
  const iterVars: IterVar[] = [];
  const loops: Array<{ v: Var; dom: Range }> = [];
  const spatial: Var[] = [];
  op.axis.forEach((a, d) => {
    const iv = primVar(`v_${a.name}`, DType.int64);
    const dom = range(toExpr(0, DType.int64), op.shape[d]);
    iterVars.push(iterVar(iv, dom, 'spatial'));
    loops.push({ v: primVar(a.name, DType.int64), dom });
    spatial.push(iv);
    subst.set(a, iv);
  });
  const reduce = op.body.kind === 'reduce' ? op.body.reduce : undefined;
  for (const k of reduce?.axes ?? []) {
    const dom = reduceAxisDom(k)!;
    need(dom.min);
    need(dom.extent);
    const iv = primVar(`v_${k.name}`, DType.int64);
    iterVars.push(iterVar(iv, dom, 'reduce'));
    loops.push({ v: primVar(k.name, DType.int64), dom });
    subst.set(k, iv);
  }
  const sub = <T extends Node>(e: T): T => {
    need(e); // before substitution: stage axes are known there, fresh iter vars are not
    return substitute(e, subst);
  };
  const outs = op.outputs.map(finalBuffer);
  const idx: PrimExpr[] = spatial;

  let body: Stmt;
  let init: Stmt | undefined;
  let readExprs: PrimExpr[];
  if (!reduce) {
    const vals = (op.body.kind === 'values' ? op.body.values : []).map(sub);
    body = seqStmt(vals.map((v, k) => bufferStore(outs[k], v, idx)));
    readExprs = vals;
  } else {
    const srcs = reduce.sources.map(sub);
    const where = reduce.where ? sub(reduce.where) : undefined;
    const inits = (reduce.init ?? reduce.reducer.identity(srcs.map((s) => s.dtype))).map(sub);
    init = seqStmt(outs.map((b, k) => bufferStore(b, inits[k], idx)));
    const acc = outs.map((b) => bufferLoad(b, idx));
    const combined = reduce.reducer.combine(acc, srcs);
    let update: Stmt;
    if (outs.length === 1) {
      update = bufferStore(outs[0], combined[0], idx);
    } else {
      // Tuple reducers read every old value, so compute all new values before storing any.
      const tmps = outs.map((b) => primVar(`v_${b.name}`, b.dtype));
      update = seqStmt(outs.map((b, k) => bufferStore(b, tmps[k], idx)));
      for (let k = outs.length - 1; k >= 0; k--) update = letStmt(tmps[k], combined[k], update);
    }
    body = where ? ifThenElse(where, update) : update;
    readExprs = [...srcs, ...(where ? [where] : []), ...inits];
  }

  const reads = readRegions(readExprs, new Set(outs));
  const writes = outs.map((b) =>
    bufferRegion(
      b,
      idx.map((i) => range(i, 1)),
    ),
  );
  const blk = block(name, body, { iterVars, reads, writes, init, annotations: op.attrs });
  let stmt: Stmt = blockRealize(
    loops.map((l) => l.v),
    true,
    blk,
  );
  for (let i = loops.length - 1; i >= 0; i--)
    stmt = forLoop(loops[i].v, loops[i].dom.min, loops[i].dom.extent, stmt);
  return stmt;
}

/**
 * Read regions from the loads in `exprs`: per dimension, the point index when every
 * load agrees, the hull when they differ by constants, else the whole dimension.
 */
function readRegions(exprs: readonly PrimExpr[], exclude: ReadonlySet<Buffer>): BufferRegion[] {
  const byBuffer = new Map<Buffer, BufferLoad[]>();
  for (const e of exprs) {
    for (const [b, loads] of collectBufferAccesses(e).reads) {
      if (exclude.has(b)) continue;
      const arr = byBuffer.get(b) ?? [];
      arr.push(...loads);
      byBuffer.set(b, arr);
    }
  }
  const out: BufferRegion[] = [];
  for (const [b, loads] of byBuffer) {
    const region = b.shape.map((s, d) =>
      dimRegion(
        loads.map((l) => l.indices[d]),
        s,
      ),
    );
    out.push(bufferRegion(b, region));
  }
  return out;
}

function splitConst(e: PrimExpr): [PrimExpr | undefined, number] {
  if (e.kind === 'IntImm') return [undefined, e.value];
  if (e.kind === 'Add' && e.b.kind === 'IntImm') return [e.a, e.b.value];
  if (e.kind === 'Sub' && e.b.kind === 'IntImm') return [e.a, -e.b.value];
  return [e, 0];
}

function dimRegion(indices: readonly PrimExpr[], extent: PrimExpr): Range {
  const first = indices[0];
  if (indices.every((i) => i === first || structuralEqual(i, first))) return range(first, 1);
  const parts = indices.map(splitConst);
  const base = parts[0][0];
  const sameBase = parts.every(
    ([b]) =>
      (b === undefined && base === undefined) ||
      (b !== undefined && base !== undefined && (b === base || structuralEqual(b, base))),
  );
  if (sameBase) {
    const lo = Math.min(...parts.map((p) => p[1]));
    const hi = Math.max(...parts.map((p) => p[1]));
    const start: ExprLike = base === undefined ? lo : lo === 0 ? base : add(base, lo);
    return range(typeof start === 'number' ? toExpr(start, DType.int64) : start, hi - lo + 1);
  }
  return range(toExpr(0, extent.dtype), isConstInt(extent) ? extent : extent);
}
