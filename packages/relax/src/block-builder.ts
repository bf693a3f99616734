// BlockBuilder: builds Relax functions binding by binding and normalizes as it goes:
// nested non-leaf arguments are bound to fresh variables (A-normal form), every
// expression gets its StructInfo (operators through the op registry, module functions
// through their FuncStructInfo with symbolic-shape substitution), and shape errors are
// raised where the offending call is built, naming the op and the operand shapes.
import type { Attrs, IRModule, Node, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import {
  ErrorCodes,
  freshGlobalName,
  getFunction,
  irModule,
  KilnError,
  moduleEntries,
  structuralEqual,
  substitute,
  withFunction,
} from '@kiln/ir-core';
import { provablyNotEqual } from './arith.js';
import {
  bindingBlock,
  dataflowBlock,
  dataflowVar,
  globalVar,
  ifExpr,
  matchCast as matchCastNode,
  relaxFunction,
  relaxVar,
  seqExpr,
  tuple,
  tupleGetItem,
  varBinding,
  withStructInfo,
} from './ir/expr.js';
import type {
  AnyVar,
  Binding,
  Block,
  Call,
  Expr,
  FuncStructInfo,
  GlobalVar,
  RelaxFunction,
  SeqExpr,
  StructInfo,
  Var,
} from './ir/nodes.js';
import { isLeaf, isRelaxExpr } from './ir/nodes.js';
import {
  eraseToWellDefined,
  isBaseOf,
  mayBeBaseOf,
  objectSInfo,
  shapeToString,
  sinfoToString,
  structInfoLCA,
  symbolicVarsOf,
  tensorShape,
} from './ir/struct-info.js';
import { createOpRegistry } from './op/builtin.js';
import type { OpRegistry } from './op/registry.js';
import { inferCallStructInfo } from './op/registry.js';

export interface BlockBuilderOptions {
  /** The operator registry used for inference (default: a fresh built-in registry). */
  ops?: OpRegistry;
}

interface BlockFrame {
  readonly dataflow: boolean;
  readonly bindings: Binding[];
}
interface FunctionFrame {
  readonly name: string;
  readonly params: readonly Var[];
  readonly blocks: Block[];
  current?: BlockFrame;
  output?: Expr;
  /** Symbolic variables defined so far (by params' StructInfo and MatchCasts). */
  readonly symVars: Set<PrimVar>;
  readonly names: Map<string, number>;
}

export interface FunctionBuildOptions {
  attrs?: Attrs;
  /** Private functions get no `global_symbol` (not exported from the module). */
  private?: boolean;
  isPure?: boolean;
}

export class BlockBuilder {
  readonly ops: OpRegistry;
  private mod: IRModule;
  private frame?: FunctionFrame;
  /** Block frames opened with beginBlock outside of `function` (used by passes). */
  private readonly scratch: BlockFrame[] = [];

  constructor(mod?: IRModule, opts: BlockBuilderOptions = {}) {
    this.mod = mod ?? irModule();
    this.ops = opts.ops ?? createOpRegistry();
  }

  // ---------------------------------------------------------------- module

  getModule(): IRModule {
    return this.mod;
  }
  /** Replace a global function (passes rebuilding a function use this). */
  updateFunction(name: string, fn: Node): void {
    this.mod = withFunction(this.mod, name, fn);
  }
  /**
   * Add a function (a TIR PrimFunc for call_tir, or a Relax function) under a fresh name
   * based on `nameHint`. A structurally equal function already in the module is reused.
   */
  addFunc(fn: Node, nameHint: string): GlobalVar {
    for (const [name, f] of moduleEntries(this.mod)) {
      if (f.kind === fn.kind && structuralEqual(f, fn, { mapFreeVars: true }))
        return this.globalVarFor(name, f);
    }
    const name = freshGlobalName(this.mod, nameHint.replace(/[^A-Za-z0-9_]/g, '_'));
    this.mod = withFunction(this.mod, name, fn);
    return this.globalVarFor(name, fn);
  }
  /** The GlobalVar of a module function, with its StructInfo when it is a Relax function. */
  globalVarFor(name: string, fn?: Node): GlobalVar {
    const f = fn ?? getFunction(this.mod, name);
    if (!f) throw new KilnError(ErrorCodes.UNKNOWN_NAME, `no global function '${name}' in module`);
    const sinfo = f.kind === 'relax.Function' ? (f as RelaxFunction).structInfo : undefined;
    return globalVar(name, sinfo);
  }

  // ---------------------------------------------------------------- functions

  /**
   * Build a Relax function: `body` receives the params, emits bindings, and either calls
   * `emitFuncOutput` or returns the output expression. Returns the function's GlobalVar.
   */
  function(
    name: string,
    params: readonly Var[],
    body: (...params: Var[]) => unknown,
    opts: FunctionBuildOptions = {},
  ): GlobalVar {
    if (this.frame)
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `cannot build function '${name}' inside function '${this.frame.name}'`,
      );
    if (getFunction(this.mod, name)) {
      throw new KilnError(ErrorCodes.DUPLICATE_NAME, `the module already has a function '${name}'`);
    }
    const symVars = new Set<PrimVar>();
    for (const p of params) for (const v of symbolicVarsOf(p.structInfo)) symVars.add(v);
    const frame: FunctionFrame = { name, params, blocks: [], symVars, names: new Map() };
    for (const p of params) frame.names.set(p.name, 1);
    this.frame = frame;
    try {
      const ret = body(...params);
      if (frame.output === undefined) {
        if (!isRelaxExpr(ret))
          throw new KilnError(
            ErrorCodes.INVALID_ARGUMENT,
            `function '${name}' has no output (call emitFuncOutput or return it)`,
          );
        this.emitFuncOutput(ret);
      }
      const fn = this.finishFunction(frame, opts);
      this.mod = withFunction(this.mod, name, fn);
      return globalVar(name, fn.structInfo);
    } finally {
      this.frame = undefined;
    }
  }

  private finishFunction(frame: FunctionFrame, opts: FunctionBuildOptions): RelaxFunction {
    this.closeBlock(frame);
    const out = frame.output!;
    const paramSyms = new Set<PrimVar>();
    for (const p of frame.params) for (const v of symbolicVarsOf(p.structInfo)) paramSyms.add(v);
    const params = new Set<Node>(frame.params);
    const ret = eraseToWellDefined(
      out.structInfo ?? objectSInfo(),
      (v) => paramSyms.has(v),
      (v) => params.has(v),
    );
    const body = withStructInfo(seqExpr(frame.blocks, out), ret);
    const attrs: Record<string, Attrs[string]> = { ...(opts.attrs ?? {}) };
    if (!opts.private && attrs.global_symbol === undefined) attrs.global_symbol = frame.name;
    return relaxFunction(frame.params, body, ret, { attrs, isPure: opts.isPure });
  }

  /** Run `fn` inside a dataflow block; returns what `fn` returns. */
  dataflow<T>(fn: () => T): T {
    const f = this.requireFrame('dataflow');
    if (f.current?.dataflow) throw new KilnError(ErrorCodes.INVALID_ARGUMENT, 'dataflow blocks cannot nest');
    this.closeBlock(f);
    f.current = { dataflow: true, bindings: [] };
    try {
      return fn();
    } finally {
      this.closeBlock(f);
    }
  }

  /** Set the function's output. Not allowed inside a dataflow block. */
  emitFuncOutput(expr: Expr): Expr {
    const f = this.requireFrame('emitFuncOutput');
    if (f.output !== undefined)
      throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `function '${f.name}' already has an output`);
    if (f.current?.dataflow)
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        'emitFuncOutput cannot be called inside a dataflow block',
      );
    let out = this.normalize(expr);
    if (!isLeaf(out)) out = this.emit(out, 'gv');
    f.output = out;
    return out;
  }

  // ---------------------------------------------------------------- bindings

  /** Normalize `expr` and bind it to a fresh variable (a DataflowVar inside dataflow blocks). */
  emit(expr: Expr, nameHint = ''): AnyVar {
    const value = this.normalize(expr);
    const blk = this.currentBlock('emit');
    const sinfo = value.structInfo ?? objectSInfo();
    const name = this.freshName(nameHint || (blk.dataflow ? 'lv' : 'gv'));
    const v = blk.dataflow ? dataflowVar(name, sinfo) : relaxVar(name, sinfo);
    this.record(blk, varBinding(v, value));
    return v;
  }
  /** Inside a dataflow block: bind to a Var that is visible after the block. */
  emitOutput(expr: Expr, nameHint = ''): Var {
    const blk = this.currentBlock('emitOutput');
    if (!blk.dataflow)
      throw new KilnError(ErrorCodes.INVALID_ARGUMENT, 'emitOutput is only valid inside a dataflow block');
    const value = this.normalize(expr);
    const v = relaxVar(this.freshName(nameHint || 'gv'), value.structInfo ?? objectSInfo());
    this.record(blk, varBinding(v, value));
    return v;
  }
  /**
   * Bind `expr` after a runtime check against `sinfo`; symbolic variables first seen in
   * `sinfo` become defined. A statically impossible cast is SHAPE_MISMATCH.
   */
  matchCast(expr: Expr, sinfo: StructInfo, nameHint = ''): AnyVar {
    const value = this.normalize(expr);
    const leaf = isLeaf(value) ? value : this.emit(value);
    const from = leaf.structInfo ?? objectSInfo();
    if (!mayBeBaseOf(sinfo, from)) {
      throw new KilnError(
        ErrorCodes.SHAPE_MISMATCH,
        `match_cast: a value of ${sinfoToString(from)} can never match ${sinfoToString(sinfo)}`,
      );
    }
    const blk = this.currentBlock('matchCast');
    const name = this.freshName(nameHint || (blk.dataflow ? 'lv' : 'gv'));
    const v = blk.dataflow ? dataflowVar(name, sinfo) : relaxVar(name, sinfo);
    this.record(blk, matchCastNode(v, leaf, sinfo));
    if (this.frame) for (const s of symbolicVarsOf(sinfo)) this.frame.symVars.add(s);
    return v;
  }
  /** Append an already normalized binding (passes rebuilding blocks use this). */
  emitBinding(b: Binding): void {
    this.record(this.currentBlock('emitBinding'), b);
  }

  /** The value bound to `v` by this builder (VarBinding values; MatchCast values), if any. */
  lookupBinding(v: AnyVar): Expr | undefined {
    return this.bindings.get(v);
  }

  private readonly bindings = new Map<AnyVar, Expr>();
  private record(blk: BlockFrame, b: Binding): void {
    blk.bindings.push(b);
    this.bindings.set(b.var, b.value);
  }

  // Passes rebuild blocks outside of `function`: beginBlock / endBlock manage a scratch
  // block into which emit/emitBinding go.
  beginBlock(dataflow: boolean): void {
    this.scratch.push({ dataflow, bindings: [] });
  }
  endBlock(): Block {
    const b = this.scratch.pop();
    if (!b) throw new KilnError(ErrorCodes.INTERNAL, 'internal error: endBlock without beginBlock');
    return b.dataflow ? dataflowBlock(b.bindings) : bindingBlock(b.bindings);
  }

  /** Symbolic variables defined in the function being built. */
  definedSymVars(): ReadonlySet<PrimVar> {
    return this.frame?.symVars ?? new Set();
  }

  private requireFrame(what: string): FunctionFrame {
    if (!this.frame)
      throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `${what} must be called inside bb.function(...)`);
    return this.frame;
  }
  private currentBlock(what: string): BlockFrame {
    if (this.scratch.length > 0) return this.scratch[this.scratch.length - 1];
    const f = this.requireFrame(what);
    if (!f.current) f.current = { dataflow: false, bindings: [] };
    return f.current;
  }
  private inBlock(): boolean {
    return this.scratch.length > 0 || this.frame !== undefined;
  }
  private closeBlock(f: FunctionFrame): void {
    const c = f.current;
    f.current = undefined;
    if (!c || c.bindings.length === 0) return;
    f.blocks.push(c.dataflow ? dataflowBlock(c.bindings) : bindingBlock(c.bindings));
  }
  private freshName(hint: string): string {
    const names = this.frame?.names;
    if (!names) return hint;
    const n = names.get(hint) ?? 0;
    names.set(hint, n + 1);
    return n === 0 ? hint : `${hint}${n}`;
  }

  // ---------------------------------------------------------------- normalization

  /**
   * Fill in StructInfo (and, inside a block, bind nested non-leaf arguments so the result
   * is in A-normal form). Returns `expr` itself when it is already normalized.
   */
  normalize(expr: Expr): Expr {
    switch (expr.kind) {
      case 'relax.Var':
      case 'relax.DataflowVar':
      case 'relax.Constant':
      case 'relax.ShapeExpr':
      case 'relax.PrimValue':
      case 'relax.StringImm':
      case 'relax.Op':
      case 'relax.ExternFunc':
        return expr;
      case 'relax.GlobalVar': {
        if (expr.structInfo) return expr;
        const f = getFunction(this.mod, expr.name);
        return f && f.kind === 'relax.Function'
          ? withStructInfo(expr, (f as RelaxFunction).structInfo!)
          : expr;
      }
      case 'relax.Tuple': {
        const fields = expr.fields.map((f) => this.normalizeArg(f));
        const same = fields.every((f, i) => f === expr.fields[i]);
        if (same && expr.structInfo) return expr;
        return tuple(fields, expr.span);
      }
      case 'relax.TupleGetItem': {
        const t = this.normalizeArg(expr.tuple);
        const ts = t.structInfo ?? objectSInfo();
        let s: StructInfo = objectSInfo();
        if (ts.kind === 'relax.TupleStructInfo') {
          if (expr.index >= ts.fields.length) {
            throw new KilnError(
              ErrorCodes.INVALID_ARGUMENT,
              `tuple index ${expr.index} out of range for ${sinfoToString(ts)}`,
            );
          }
          s = ts.fields[expr.index];
        } else if (ts.kind !== 'relax.ObjectStructInfo') {
          throw new KilnError(
            ErrorCodes.INVALID_ARGUMENT,
            `TupleGetItem on a non-tuple value of ${sinfoToString(ts)}`,
          );
        }
        const base = t === expr.tuple ? expr : tupleGetItem(t, expr.index, expr.span);
        return withStructInfo(base, s);
      }
      case 'relax.Call':
        return this.normalizeCall(expr);
      case 'relax.If': {
        const cond = this.normalizeArg(expr.cond);
        const cs = cond.structInfo;
        if (cs && cs.kind === 'relax.TensorStructInfo' && cs.ndim > 0) {
          throw new KilnError(
            ErrorCodes.SHAPE_MISMATCH,
            `If condition must be a scalar, got ${sinfoToString(cs)}`,
          );
        }
        const t = this.normalizeBranch(expr.trueBranch);
        const f = this.normalizeBranch(expr.falseBranch);
        const s = structInfoLCA(t.structInfo ?? objectSInfo(), f.structInfo ?? objectSInfo());
        const base =
          cond === expr.cond && t === expr.trueBranch && f === expr.falseBranch
            ? expr
            : ifExpr(cond, t, f, expr.span);
        return withStructInfo(base, s);
      }
      case 'relax.SeqExpr':
        return this.normalizeSeq(expr);
      case 'relax.Function': {
        const body = this.normalizeBranch(expr.body);
        if (body === expr.body && expr.structInfo) return expr;
        return relaxFunction(expr.params, body, expr.retStructInfo, {
          attrs: expr.attrs,
          isPure: expr.isPure,
          span: expr.span,
        });
      }
    }
  }

  /** Normalize an argument position: non-leaf values are bound to fresh vars when inside a block. */
  private normalizeArg(e: Expr): Expr {
    const n = this.normalize(e);
    if (isLeaf(n) || !this.inBlock()) return n;
    return this.emit(n);
  }

  /** A branch/body is its own scope: bindings it needs are collected into a SeqExpr. */
  private normalizeBranch(e: Expr): Expr {
    if (e.kind === 'relax.SeqExpr') return this.normalizeSeq(e);
    this.beginBlock(false);
    let n: Expr;
    try {
      n = this.normalize(e);
      // The body of a scope is a leaf: a call in a branch gets its own binding, so passes
      // that rewrite bindings (LegalizeOps, ...) see it.
      if (!isLeaf(n)) n = this.emit(n, 'br');
    } catch (err) {
      this.scratch.pop();
      throw err;
    }
    const blk = this.endBlock();
    if (blk.bindings.length === 0) return n;
    return withStructInfo(seqExpr([blk], n), n.structInfo ?? objectSInfo());
  }

  private normalizeSeq(e: SeqExpr): SeqExpr {
    let changed = false;
    const blocks = e.blocks.map((b) => {
      const bindings = b.bindings.map((bd): Binding => {
        const v = this.normalize(bd.value);
        if (v === bd.value) return bd;
        changed = true;
        return bd.kind === 'relax.VarBinding'
          ? varBinding(bd.var, v, bd.span)
          : matchCastNode(bd.var, v, bd.structInfo, bd.span);
      });
      if (bindings.every((x, i) => x === b.bindings[i])) return b;
      return b.kind === 'relax.DataflowBlock'
        ? dataflowBlock(bindings, b.span)
        : bindingBlock(bindings, b.span);
    });
    const body = this.normalize(e.body);
    if (!changed && body === e.body && e.structInfo) return e;
    return withStructInfo(seqExpr(blocks, body, e.span), body.structInfo ?? objectSInfo());
  }

  private normalizeCall(c: Call): Call {
    const args = c.args.map((a) => this.normalizeArg(a));
    const op = c.op.kind === 'relax.GlobalVar' ? (this.normalize(c.op) as GlobalVar) : c.op;
    const same = op === c.op && args.every((a, i) => a === c.args[i]);
    const base: Call = same
      ? c
      : Object.freeze({ ...c, op, args: Object.freeze(args), structInfo: undefined });
    if (same && c.structInfo) return c;
    let s: StructInfo;
    switch (op.kind) {
      case 'relax.Op':
        s = inferCallStructInfo(this.ops, base, this.mod);
        break;
      case 'relax.GlobalVar': {
        const fs = op.structInfo;
        if (!fs) {
          // A PrimFunc called directly (not via call_tir) or an unknown global: nothing is known.
          const f = getFunction(this.mod, op.name);
          if (!f)
            throw new KilnError(ErrorCodes.UNKNOWN_NAME, `call of unknown global function '${op.name}'`);
          s = objectSInfo();
        } else s = this.inferFuncCall(op.name, fs as FuncStructInfo, args);
        break;
      }
      default: {
        const fs = op.structInfo;
        s =
          fs && fs.kind === 'relax.FuncStructInfo'
            ? this.inferFuncCall(op.kind === 'relax.ExternFunc' ? op.globalSymbol : op.name, fs, args)
            : objectSInfo();
      }
    }
    return withStructInfo(base, s);
  }

  /**
   * The result of calling a function of `fs` with `args`: the callee's symbolic shape
   * variables are bound by matching its parameter StructInfo against the arguments', and
   * substituted into its return StructInfo (what cannot be bound is erased).
   */
  private inferFuncCall(name: string, fs: FuncStructInfo, args: readonly Expr[]): StructInfo {
    if (fs.kind !== 'relax.FuncStructInfo') return objectSInfo();
    if (fs.opaque) return fs.ret;
    if (fs.params.length !== args.length) {
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `call of '${name}' with ${args.length} arguments; it takes ${fs.params.length}`,
      );
    }
    const bind = new Map<Node, PrimExpr>();
    fs.params.forEach((p, i) => {
      matchSymbolic(p, args[i].structInfo ?? objectSInfo(), bind, name, i);
    });
    const bound = new Set<PrimVar>();
    for (const k of bind.keys()) bound.add(k as PrimVar);
    const ret = substitute(fs.ret, bind as Map<Node, Node>);
    return eraseToWellDefined(ret, (v) => !symbolicVarsOf(fs.ret).includes(v) || bound.has(v));
  }
}

/** Bind the callee's symbolic vars (bare Var dims) from the actual argument StructInfo; check what is fixed. */
function matchSymbolic(
  param: StructInfo,
  arg: StructInfo,
  bind: Map<Node, PrimExpr>,
  callee: string,
  index: number,
): void {
  if (param.kind === 'relax.TensorStructInfo' && arg.kind === 'relax.TensorStructInfo') {
    const ps = tensorShape(param);
    const as = tensorShape(arg);
    if (param.dtype && arg.dtype && param.dtype !== arg.dtype) {
      throw new KilnError(
        ErrorCodes.DTYPE_MISMATCH,
        `argument ${index} of '${callee}' has dtype ${arg.dtype.str}, expected ${param.dtype.str}`,
      );
    }
    if (param.ndim >= 0 && arg.ndim >= 0 && param.ndim !== arg.ndim) {
      throw new KilnError(
        ErrorCodes.SHAPE_MISMATCH,
        `argument ${index} of '${callee}' has rank ${arg.ndim}, expected ${param.ndim}`,
      );
    }
    if (!ps || !as) return;
    ps.forEach((d, i) => {
      if (d.kind === 'Var' && !bind.has(d)) {
        bind.set(d, as[i]);
        return;
      }
      const want = substitute(d, bind as Map<Node, Node>);
      if (provablyNotEqual(want, as[i])) {
        throw new KilnError(
          ErrorCodes.SHAPE_MISMATCH,
          `argument ${index} of '${callee}' has shape ${shapeToString(as)}, expected ${shapeToString(ps)}`,
        );
      }
    });
    return;
  }
  if (param.kind === 'relax.TupleStructInfo' && arg.kind === 'relax.TupleStructInfo') {
    param.fields.forEach((p, i) => {
      if (arg.fields[i]) matchSymbolic(p, arg.fields[i], bind, callee, index);
    });
    return;
  }
  if (param.kind === 'relax.ShapeStructInfo' && arg.kind === 'relax.ShapeStructInfo') {
    const ps = param.ndim >= 0 && param.values.length === param.ndim ? param.values : undefined;
    const as = arg.ndim >= 0 && arg.values.length === arg.ndim ? arg.values : undefined;
    if (ps && as && ps.length === as.length)
      ps.forEach((d, i) => {
        if (d.kind === 'Var' && !bind.has(d)) bind.set(d, as[i]);
      });
    return;
  }
  if (!mayBeBaseOf(param, arg) && !isBaseOf(param, arg)) {
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `argument ${index} of '${callee}' is ${sinfoToString(arg)}, expected ${sinfoToString(param)}`,
    );
  }
}
