// The PrimFunc well-formedness checker: every variable use is bound (params, buffer
// shape vars, loop vars, block iter vars, let vars), each variable is bound once, block
// bodies reach outer loop variables only through their iter vars, buffers are declared
// (params, alloc_buffers, Allocate, DeclBuffer, or a view of bound storage), stores
// match their buffer's dtype, accesses have one index per dimension, block names are
// unique. Registered with ir-core's well-formed instrument for 'PrimFunc'.
import type { Buffer, PrimExpr, Range, Var } from '@kiln/ir-core';
import * as core from '@kiln/ir-core';
import { varsIn } from './analysis/vars.js';
import type { Block, BufferRegion, PrimFunc, Stmt } from './stmt.js';

class Checker {
  readonly problems: string[] = [];
  /** Vars in scope → the block depth they were bound at (loops) or -1 (visible everywhere). */
  private readonly scope = new Map<Var, number>();
  private readonly everBound = new Set<Var>();
  private readonly buffers = new Set<Buffer>();
  private readonly blockNames = new Set<string>();
  private blockDepth = 0;
  private where = 'function body';

  private problem(msg: string): void {
    if (this.problems.length < 200) this.problems.push(`${msg} (in ${this.where})`);
  }

  private bind(v: Var, loopDepth = -1): void {
    if (this.everBound.has(v)) this.problem(`variable '${v.name}' is bound more than once`);
    this.everBound.add(v);
    this.scope.set(v, loopDepth);
  }
  private unbind(v: Var): void {
    this.scope.delete(v);
  }

  run(fn: PrimFunc): void {
    for (const p of fn.params) {
      if (p.kind === 'Var') {
        this.bind(p);
        continue;
      }
      this.bind(p.data);
      this.buffers.add(p);
    }
    // Shape vars are defined by the parameter buffers (bound from the argument shapes).
    for (const p of fn.params) {
      if (p.kind !== 'Buffer') continue;
      for (const e of [...p.shape, ...p.strides, p.elemOffset]) {
        for (const v of varsIn(e)) if (!this.scope.has(v)) this.bind(v);
      }
    }
    for (const p of fn.params) if (p.kind === 'Buffer') this.bufferDecl(p, `parameter buffer '${p.name}'`);
    this.stmt(fn.body);
  }

  // ------------------------------------------------------------ expressions

  private expr(e: PrimExpr): void {
    switch (e.kind) {
      case 'IntImm':
      case 'FloatImm':
      case 'StringImm':
        return;
      case 'Var': {
        const d = this.scope.get(e);
        if (d === undefined) this.problem(`variable '${e.name}' is used but not bound`);
        else if (d >= 0 && d < this.blockDepth) {
          this.problem(
            `loop variable '${e.name}' is used inside a block nested in its loop; use a block iter var bound to it`,
          );
        }
        return;
      }
      case 'Let':
        this.expr(e.value);
        this.bind(e.var);
        this.expr(e.body);
        this.unbind(e.var);
        return;
      case 'BufferLoad':
        this.bufferUse(e.buffer, e.indices, 'load');
        for (const i of e.indices) this.expr(i);
        return;
      case 'Select':
        if (e.cond.dtype.code !== 'bool')
          this.problem(`Select condition has dtype ${e.cond.dtype.str}, expected bool`);
        this.expr(e.cond);
        this.expr(e.t);
        this.expr(e.f);
        return;
      case 'Call':
        for (const a of e.args) this.expr(a);
        return;
      case 'Cast':
        this.expr(e.value);
        return;
      case 'Not':
        this.expr(e.a);
        return;
      case 'Ramp':
        this.expr(e.base);
        this.expr(e.stride);
        return;
      case 'Broadcast':
        this.expr(e.value);
        return;
      default:
        this.expr(e.a);
        this.expr(e.b);
    }
  }

  private range(r: Range): void {
    this.expr(r.min);
    this.expr(r.extent);
  }

  private bufferDecl(b: Buffer, what: string): void {
    for (const e of [...b.shape, ...b.strides, b.elemOffset]) {
      const before = this.problems.length;
      this.expr(e);
      if (this.problems.length > before) this.problems[this.problems.length - 1] += ` [shape of ${what}]`;
    }
  }

  private bufferUse(b: Buffer, indices: readonly PrimExpr[] | undefined, what: string): void {
    if (!this.buffers.has(b) && !this.scope.has(b.data)) {
      this.problem(
        `buffer '${b.name}' is used (${what}) but not declared: not a parameter, alloc_buffer, Allocate or DeclBuffer, and its storage '${b.data.name}' is not bound`,
      );
    }
    if (indices) {
      if (indices.length !== b.shape.length)
        this.problem(
          `buffer '${b.name}' has ${b.shape.length} dimensions but a ${what} uses ${indices.length} indices`,
        );
      for (const i of indices) {
        if (i.dtype.code !== 'int' && i.dtype.code !== 'uint')
          this.problem(`index of buffer '${b.name}' has dtype ${i.dtype.str}, expected an integer`);
      }
    }
  }

  private region(r: BufferRegion): void {
    this.bufferUse(r.buffer, undefined, 'region');
    if (r.region.length !== r.buffer.shape.length) {
      this.problem(
        `region of buffer '${r.buffer.name}' has ${r.region.length} ranges for ${r.buffer.shape.length} dimensions`,
      );
    }
    for (const x of r.region) this.range(x);
  }

  private cond(e: PrimExpr, what: string): void {
    if (e.dtype.code !== 'bool') this.problem(`${what} has dtype ${e.dtype.str}, expected bool`);
    this.expr(e);
  }

  // ------------------------------------------------------------ statements

  private stmt(s: Stmt): void {
    switch (s.kind) {
      case 'BufferStore': {
        const b = s.buffer;
        this.bufferUse(b, s.indices, 'store');
        const idxLanes = s.indices.reduce((m, i) => Math.max(m, i.dtype.lanes), 1);
        const v = s.value.dtype;
        const okType = v.code === b.dtype.code && v.bits === b.dtype.bits;
        const okLanes = v.lanes === b.dtype.lanes * idxLanes || (v.lanes === b.dtype.lanes && idxLanes === 1);
        if (!okType || !okLanes) {
          this.problem(
            `store of ${v.str} into buffer '${b.name}' of ${b.dtype.str}${idxLanes > 1 ? ` with ${idxLanes}-lane indices` : ''}`,
          );
        }
        this.expr(s.value);
        for (const i of s.indices) this.expr(i);
        return;
      }
      case 'LetStmt':
        this.expr(s.value);
        if (s.value.dtype.str !== s.var.dtype.str)
          this.problem(`let '${s.var.name}' of ${s.var.dtype.str} bound to a ${s.value.dtype.str} value`);
        this.bind(s.var);
        this.stmt(s.body);
        this.unbind(s.var);
        return;
      case 'For':
        this.expr(s.min);
        this.expr(s.extent);
        if (s.extent.dtype.code !== 'int' && s.extent.dtype.code !== 'uint')
          this.problem(`loop '${s.loopVar.name}' has a non-integer extent`);
        this.bind(s.loopVar, this.blockDepth);
        this.stmt(s.body);
        this.unbind(s.loopVar);
        return;
      case 'While':
        this.cond(s.cond, 'While condition');
        this.stmt(s.body);
        return;
      case 'IfThenElse':
        this.cond(s.cond, 'IfThenElse condition');
        this.stmt(s.then);
        if (s.else) this.stmt(s.else);
        return;
      case 'SeqStmt':
        for (const x of s.seq) this.stmt(x);
        return;
      case 'Evaluate':
        this.expr(s.value);
        return;
      case 'Allocate':
        this.bufferDecl(s.buffer, `allocation '${s.buffer.name}'`);
        this.bind(s.buffer.data);
        this.buffers.add(s.buffer);
        this.stmt(s.body);
        this.unbind(s.buffer.data);
        this.buffers.delete(s.buffer);
        return;
      case 'DeclBuffer':
        if (!this.scope.has(s.buffer.data))
          this.problem(
            `DeclBuffer '${s.buffer.name}' views storage '${s.buffer.data.name}' that is not bound`,
          );
        this.bufferDecl(s.buffer, `declared buffer '${s.buffer.name}'`);
        this.buffers.add(s.buffer);
        this.stmt(s.body);
        this.buffers.delete(s.buffer);
        return;
      case 'AttrStmt':
        this.expr(s.value);
        this.stmt(s.body);
        return;
      case 'BlockRealize':
        for (const v of s.iterValues) this.expr(v);
        this.cond(s.predicate, `predicate of block '${s.block.name}'`);
        if (s.iterValues.length !== s.block.iterVars.length) {
          this.problem(
            `block '${s.block.name}' has ${s.block.iterVars.length} iter vars but ${s.iterValues.length} bindings`,
          );
        }
        s.iterValues.forEach((v, i) => {
          const iv = s.block.iterVars[i];
          if (iv && v.dtype.str !== iv.var.dtype.str)
            this.problem(
              `block '${s.block.name}' binds iter var '${iv.var.name}' (${iv.var.dtype.str}) to a ${v.dtype.str} value`,
            );
        });
        this.block(s.block);
        return;
      case 'Block':
        this.block(s);
        return;
    }
  }

  private block(b: Block): void {
    if (this.blockNames.has(b.name)) this.problem(`block name '${b.name}' is not unique`);
    this.blockNames.add(b.name);
    const saved = this.where;
    this.where = `block '${b.name}'`;
    for (const iv of b.iterVars) this.range(iv.dom);
    this.blockDepth++;
    for (const iv of b.iterVars) this.bind(iv.var);
    for (const a of b.allocBuffers) {
      this.bufferDecl(a, `alloc_buffer '${a.name}'`);
      this.bind(a.data);
      this.buffers.add(a);
    }
    for (const r of b.reads) this.region(r);
    for (const w of b.writes) this.region(w);
    if (b.init) {
      if (!b.iterVars.some((iv) => iv.iterType === 'reduce'))
        this.problem(`block '${b.name}' has an init but no reduce iter var`);
      this.stmt(b.init);
    }
    this.stmt(b.body);
    for (const a of b.allocBuffers) {
      this.unbind(a.data);
      this.buffers.delete(a);
    }
    for (const iv of b.iterVars) this.unbind(iv.var);
    this.blockDepth--;
    this.where = saved;
  }
}

/** The problems that make `fn` ill-formed (empty when it is well-formed). */
export function wellFormed(fn: PrimFunc): string[] {
  const c = new Checker();
  c.run(fn);
  return c.problems;
}

// Register once per process (ir-core's table refuses a second checker for a kind). Looked
// up dynamically so that an older ir-core without the checker table still loads.
interface CheckerTable {
  defineWellFormedChecker?: (kind: string, check: (fn: PrimFunc, name: string) => readonly string[]) => void;
  wellFormedChecker?: (kind: string) => unknown;
}
const table = core as unknown as CheckerTable;
if (table.defineWellFormedChecker && table.wellFormedChecker && !table.wellFormedChecker('PrimFunc')) {
  table.defineWellFormedChecker('PrimFunc', (fn) => wellFormed(fn));
}
