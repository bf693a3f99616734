// Well-formedness of Relax functions: variables defined once and before use, dataflow
// variables only inside their dataflow block, symbolic shape variables defined (by a
// parameter's StructInfo or a MatchCast) before they are used, StructInfo present on
// every expression (normalized), call arguments in A-normal form, bindings whose
// variables' StructInfo is a base of the value's, and module references that resolve.
// Registered with ir-core's checker table so the well-formed instrument runs it.
import type { IRModule, Var as PrimVar } from '@kiln/ir-core';
import { defineWellFormedChecker, getFunction, moduleEntries, wellFormedChecker } from '@kiln/ir-core';
import type { AnyVar, Block, Expr, RelaxFunction, StructInfo } from './ir/nodes.js';
import { isLeaf } from './ir/nodes.js';
import { isBaseOf, sinfoToString, symbolicVarsOf } from './ir/struct-info.js';

class Checker {
  readonly problems: string[] = [];
  private readonly defined = new Set<AnyVar>();
  private readonly visible = new Set<AnyVar>();
  private readonly sym = new Set<PrimVar>();

  constructor(
    private readonly fnName: string,
    private readonly mod?: IRModule,
  ) {}

  private report(msg: string): void {
    if (this.problems.length < 50) this.problems.push(msg);
  }

  function(fn: RelaxFunction): void {
    const savedVisible = new Set(this.visible);
    const savedSym = new Set(this.sym);
    for (const p of fn.params) {
      if (p.kind !== 'relax.Var') this.report(`parameter '${(p as AnyVar).name}' is a DataflowVar`);
      this.define(p);
      // Parameters define the symbolic variables of their StructInfo.
      for (const v of symbolicVarsOf(p.structInfo)) this.sym.add(v);
    }
    this.structInfo(fn.retStructInfo, `return StructInfo of '${this.fnName}'`);
    this.expr(fn.body, false);
    const bs = fn.body.structInfo;
    if (bs && !isBaseOf(fn.retStructInfo, bs)) {
      this.report(
        `function body has ${sinfoToString(bs)}, not derived from the return StructInfo ${sinfoToString(fn.retStructInfo)}`,
      );
    }
    this.visible.clear();
    for (const v of savedVisible) this.visible.add(v);
    this.sym.clear();
    for (const v of savedSym) this.sym.add(v);
  }

  private define(v: AnyVar): void {
    if (this.defined.has(v)) this.report(`variable '${v.name}' is defined more than once`);
    this.defined.add(v);
    this.visible.add(v);
  }

  private structInfo(s: StructInfo, where: string): void {
    for (const v of symbolicVarsOf(s)) {
      if (!this.sym.has(v)) this.report(`symbolic variable '${v.name}' used in ${where} is not defined`);
    }
    if (
      s.kind === 'relax.TensorStructInfo' &&
      s.shape &&
      s.shape.kind !== 'relax.ShapeExpr' &&
      !this.visible.has(s.shape)
    ) {
      this.report(`shape variable '${s.shape.name}' used in ${where} is not in scope`);
    }
  }

  private use(v: AnyVar): void {
    if (!this.visible.has(v)) {
      this.report(
        this.defined.has(v)
          ? `variable '${v.name}' is used outside its scope${v.kind === 'relax.DataflowVar' ? ' (a DataflowVar used after its dataflow block)' : ''}`
          : `variable '${v.name}' is used before it is defined`,
      );
    }
  }

  private block(b: Block): AnyVar[] {
    const local: AnyVar[] = [];
    const dataflow = b.kind === 'relax.DataflowBlock';
    for (const bd of b.bindings) {
      if (dataflow && bd.value.kind === 'relax.If')
        this.report(
          `dataflow block binds '${bd.var.name}' to an If (control flow is not allowed in dataflow blocks)`,
        );
      this.expr(bd.value, dataflow);
      if (bd.kind === 'relax.MatchCast') {
        for (const v of symbolicVarsOf(bd.structInfo)) this.sym.add(v);
        this.structInfo(bd.structInfo, `match_cast of '${bd.var.name}'`);
      }
      if (bd.var.kind === 'relax.DataflowVar' && !dataflow)
        this.report(`DataflowVar '${bd.var.name}' is bound outside a dataflow block`);
      this.define(bd.var);
      this.structInfo(bd.var.structInfo, `the StructInfo of '${bd.var.name}'`);
      const vs = bd.value.structInfo;
      if (bd.kind === 'relax.VarBinding' && vs && !isBaseOf(bd.var.structInfo, vs)) {
        this.report(
          `'${bd.var.name}' has ${sinfoToString(bd.var.structInfo)}, which is not a base of its value's ${sinfoToString(vs)}`,
        );
      }
      if (bd.var.kind === 'relax.DataflowVar') local.push(bd.var);
    }
    return local;
  }

  private expr(e: Expr, inDataflow: boolean): void {
    switch (e.kind) {
      case 'relax.Var':
      case 'relax.DataflowVar':
        this.use(e);
        return;
      case 'relax.Function':
        this.function(e);
        return;
      case 'relax.SeqExpr': {
        const scopeStart = new Set(this.visible);
        for (const b of e.blocks) {
          const locals = this.block(b);
          // DataflowVars die at the end of their block.
          for (const v of locals) this.visible.delete(v);
        }
        this.expr(e.body, inDataflow);
        this.needSInfo(e);
        // Bindings of a SeqExpr are not visible after it.
        for (const v of [...this.visible]) if (!scopeStart.has(v)) this.visible.delete(v);
        return;
      }
      case 'relax.If':
        this.expr(e.cond, inDataflow);
        this.expr(e.trueBranch, inDataflow);
        this.expr(e.falseBranch, inDataflow);
        this.needSInfo(e);
        return;
      case 'relax.Tuple':
        for (const f of e.fields) this.arg(f, 'tuple field', inDataflow);
        this.needSInfo(e);
        return;
      case 'relax.TupleGetItem':
        this.arg(e.tuple, 'TupleGetItem operand', inDataflow);
        this.needSInfo(e);
        return;
      case 'relax.Call': {
        if (e.op.kind === 'relax.Var' || e.op.kind === 'relax.DataflowVar') this.use(e.op);
        if (e.op.kind === 'relax.GlobalVar') this.global(e.op.name, 'relax.Function');
        if (e.op.kind === 'relax.Op' && e.op.name === 'relax.call_tir') {
          const callee = e.args[0];
          if (callee?.kind !== 'relax.GlobalVar') this.report('call_tir callee is not a GlobalVar');
          else this.global(callee.name, 'PrimFunc');
        }
        for (const a of e.args)
          this.arg(a, `argument of ${e.op.kind === 'relax.Op' ? e.op.name : 'a call'}`, inDataflow);
        for (const s of e.sinfoArgs) this.structInfo(s, 'a call StructInfo argument');
        this.needSInfo(e);
        if (e.structInfo)
          this.structInfo(
            e.structInfo,
            `the StructInfo of a call of ${e.op.kind === 'relax.Op' ? e.op.name : 'a function'}`,
          );
        return;
      }
      case 'relax.GlobalVar':
        this.global(e.name);
        return;
      case 'relax.ShapeExpr':
        for (const v of symbolicVarsOf(e))
          if (!this.sym.has(v)) this.report(`symbolic variable '${v.name}' used in a shape is not defined`);
        return;
      case 'relax.PrimValue':
        for (const v of symbolicVarsOf(e.value))
          if (!this.sym.has(v))
            this.report(`symbolic variable '${v.name}' used in a PrimValue is not defined`);
        return;
      default:
        return;
    }
  }

  private arg(a: Expr, what: string, inDataflow: boolean): void {
    if (!isLeaf(a)) this.report(`${what} is a nested ${a.kind} (not in A-normal form)`);
    this.expr(a, inDataflow);
  }

  private needSInfo(e: Expr): void {
    if (!e.structInfo) this.report(`a ${e.kind} has no StructInfo (not normalized)`);
  }

  private global(name: string, kind?: string): void {
    if (!this.mod) return;
    const f = getFunction(this.mod, name);
    if (!f) this.report(`reference to unknown global function '${name}'`);
    else if (kind && f.kind !== kind) this.report(`'${name}' is a ${f.kind}, expected a ${kind}`);
  }
}

/** Check one Relax function (with `mod` for resolving global references). */
export function wellFormedFunction(fn: RelaxFunction, name = 'function', mod?: IRModule): string[] {
  const c = new Checker(name, mod);
  c.function(fn);
  const gs = fn.attrs.global_symbol;
  if (mod && gs !== undefined && gs !== name)
    c.problems.push(`global_symbol '${String(gs)}' differs from the global name '${name}'`);
  return c.problems;
}

/** Problems of a module's Relax functions (or of one function), as `name: problem` lines. Empty = well-formed. */
export function wellFormed(target: IRModule | RelaxFunction): string[] {
  if (target.kind === 'relax.Function') return wellFormedFunction(target);
  const out: string[] = [];
  for (const [name, fn] of moduleEntries(target)) {
    if (fn.kind !== 'relax.Function') continue;
    for (const p of wellFormedFunction(fn as RelaxFunction, name, target)) out.push(`${name}: ${p}`);
  }
  return out;
}

// The instrument sees one function at a time; references to other globals are not resolved there.
// (Guarded: a second copy of this package in one process must not fail at load time.)
if (!wellFormedChecker('relax.Function')) {
  defineWellFormedChecker<RelaxFunction>('relax.Function', (fn, name) => wellFormedFunction(fn, name));
}
