// Lowering of Relax functions to the Kiln VM bytecode (the instruction set defined by
// @kiln/runtime; only its types are imported, the runtime itself is not a dependency).
// Input: a legalized module (call_tir into PrimFuncs), optionally after CallTIRRewrite
// and StaticPlanBlockMemory (explicit and planned allocations). Every symbolic shape
// variable lives in a heap slot of the frame: parameters bind them through MatchShape,
// and every size the bytecode computes is an expression over those slots, so one
// program serves every value of the symbolic dims.
import type { DataType, IRModule, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import { ErrorCodes, getFunction, KilnError, moduleEntries, printExpr } from '@kiln/ir-core';
import type { Arg, DimPattern, Instr, IntExpr, ValueSig, VMFunction } from '@kiln/runtime';
import type { PrimFunc } from '@kiln/tensorir';
import { kernelABI } from '@kiln/tensorir';
import type {
  AnyVar,
  Binding,
  Call,
  Constant,
  Expr,
  RelaxFunction,
  StructInfo,
  TensorStructInfo,
} from '../ir/nodes.js';
import { tensorShape } from '../ir/struct-info.js';

export interface VMConstant {
  readonly name?: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Little-endian element bytes, row-major. */
  readonly data: Uint8Array;
}

/** What the VM lowering produces: bytecode, constants, and the kernels it calls. */
export interface VMProgram {
  readonly functions: readonly VMFunction[];
  readonly constants: readonly VMConstant[];
  /** PrimFuncs called by the bytecode (symbol = global name), for the code generators. */
  readonly kernels: readonly string[];
}

export interface VMLoweringOptions {
  /** Name of the kernel module the PrimFuncs are compiled into (default `cpu`). */
  kernelModule?: string;
  /** Device index for allocations (default 0, the host). */
  device?: number;
  /** Lower only these functions (default: every Relax function of the module). */
  functions?: readonly string[];
}

const VM_LOWERING = 'VM_LOWERING';

class ProgramBuilder {
  readonly constants: VMConstant[] = [];
  private readonly constIndex = new Map<Constant, number>();
  readonly kernels = new Set<string>();

  constant(c: Constant): number {
    let i = this.constIndex.get(c);
    if (i === undefined) {
      i = this.constants.length;
      const d = c.data;
      this.constants.push({
        dtype: c.dtype.str,
        shape: [...c.shape],
        data: new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)),
      });
      this.constIndex.set(c, i);
    }
    return i;
  }
}

function sigOf(s: StructInfo): ValueSig {
  switch (s.kind) {
    case 'relax.TensorStructInfo': {
      const shape = tensorShape(s);
      return {
        kind: 'tensor',
        dtype: s.dtype?.str,
        shape: shape ? shape.map((d) => (d.kind === 'IntImm' ? d.value : printExpr(d))) : undefined,
      };
    }
    case 'relax.TupleStructInfo':
      return { kind: 'tuple', fields: s.fields.map(sigOf) };
    case 'relax.ShapeStructInfo':
      return {
        kind: 'shape',
        dims:
          s.ndim >= 0 && s.values.length === s.ndim
            ? s.values.map((d) => (d.kind === 'IntImm' ? d.value : printExpr(d)))
            : undefined,
      };
    case 'relax.PrimStructInfo':
      return { kind: 'scalar', dtype: s.dtype.str };
    default:
      return { kind: 'object' };
  }
}

class FunctionLowering {
  readonly code: Instr[] = [];
  private readonly regs = new Map<AnyVar, number>();
  private readonly storage = new Map<AnyVar, number>();
  private readonly heap = new Map<PrimVar, number>();
  private readonly heapNames: (string | undefined)[] = [];
  private nextReg = 0;
  private nextStorage = 0;

  constructor(
    readonly name: string,
    readonly fn: RelaxFunction,
    readonly mod: IRModule,
    readonly prog: ProgramBuilder,
    readonly opts: Required<Omit<VMLoweringOptions, 'functions'>>,
  ) {}

  private fail(msg: string): never {
    throw new KilnError(VM_LOWERING, `VM lowering of '${this.name}': ${msg}`);
  }

  private reg(): number {
    return this.nextReg++;
  }

  private regOf(v: AnyVar): number {
    const r = this.regs.get(v);
    if (r === undefined) this.fail(`variable '${v.name}' is used before it is defined`);
    return r;
  }

  /** A PrimExpr over symbolic shape vars → an IntExpr over heap slots. */
  intExpr(e: PrimExpr): IntExpr {
    switch (e.kind) {
      case 'IntImm':
        return { kind: 'int', value: e.value };
      case 'Var': {
        const s = this.heap.get(e);
        if (s === undefined) this.fail(`symbolic variable '${e.name}' is used before any shape defines it`);
        return { kind: 'slot', slot: s };
      }
      case 'Add':
        return { kind: 'add', a: this.intExpr(e.a), b: this.intExpr(e.b) };
      case 'Sub':
        return { kind: 'sub', a: this.intExpr(e.a), b: this.intExpr(e.b) };
      case 'Mul':
        return { kind: 'mul', a: this.intExpr(e.a), b: this.intExpr(e.b) };
      // Shape arithmetic is on non-negative values, where truncation equals flooring.
      case 'FloorDiv':
      case 'Div':
        return { kind: 'floordiv', a: this.intExpr(e.a), b: this.intExpr(e.b) };
      case 'FloorMod':
      case 'Mod':
        return { kind: 'floormod', a: this.intExpr(e.a), b: this.intExpr(e.b) };
      case 'Min':
        return { kind: 'min', a: this.intExpr(e.a), b: this.intExpr(e.b) };
      case 'Max':
        return { kind: 'max', a: this.intExpr(e.a), b: this.intExpr(e.b) };
      case 'Cast':
        return this.intExpr(e.value);
      default:
        return this.fail(`shape expression '${printExpr(e)}' (${e.kind}) cannot be computed by the VM`);
    }
  }

  private allBound(e: PrimExpr): boolean {
    switch (e.kind) {
      case 'IntImm':
        return true;
      case 'Var':
        return this.heap.has(e);
      case 'Cast':
        return this.allBound(e.value);
      default:
        return 'a' in e && 'b' in e ? this.allBound(e.a) && this.allBound(e.b) : false;
    }
  }

  /** MatchShape for `reg` against `sinfo`, binding new symbolic vars. Deferred dims are returned. */
  private matchShape(
    reg: number,
    sinfo: StructInfo,
    argName: string,
    bindNew: boolean,
  ): Array<{ reg: number; sinfo: StructInfo; arg: string }> {
    const deferred: Array<{ reg: number; sinfo: StructInfo; arg: string }> = [];
    const pattern = (dims: readonly PrimExpr[]): DimPattern[] =>
      dims.map((d): DimPattern => {
        if (d.kind === 'IntImm') return { kind: 'int', value: d.value };
        if (d.kind === 'Var' && !this.heap.has(d)) {
          if (!bindNew) return { kind: 'any' };
          const slot = this.heapNames.length;
          this.heap.set(d, slot);
          this.heapNames.push(d.name);
          return { kind: 'bind', slot, name: d.name };
        }
        if (this.allBound(d)) return { kind: 'expr', expr: this.intExpr(d), name: printExpr(d) };
        return { kind: 'any' };
      });
    const context = { func: this.name, arg: argName };
    if (sinfo.kind === 'relax.TensorStructInfo') {
      const shape = tensorShape(sinfo);
      const dims = shape ? pattern(shape) : undefined;
      if (dims?.some((p) => p.kind === 'any') && shape?.some((d) => d.kind !== 'IntImm'))
        deferred.push({ reg, sinfo, arg: argName });
      this.code.push({
        op: 'MatchShape',
        reg,
        valueKind: 'tensor',
        dtype: sinfo.dtype?.str,
        dims:
          dims ??
          (sinfo.ndim >= 0
            ? Array.from({ length: sinfo.ndim }, (): DimPattern => ({ kind: 'any' }))
            : undefined),
        context,
      });
    } else if (sinfo.kind === 'relax.ShapeStructInfo') {
      const known = sinfo.ndim >= 0 && sinfo.values.length === sinfo.ndim;
      this.code.push({
        op: 'MatchShape',
        reg,
        valueKind: 'shape',
        dims: known ? pattern(sinfo.values) : undefined,
        context,
      });
    } else if (sinfo.kind === 'relax.TupleStructInfo') {
      sinfo.fields.forEach((f, i) => {
        if (
          f.kind !== 'relax.TensorStructInfo' &&
          f.kind !== 'relax.ShapeStructInfo' &&
          f.kind !== 'relax.TupleStructInfo'
        )
          return;
        const r = this.reg();
        this.code.push({
          op: 'CallBuiltin',
          name: 'tuple.get',
          args: [
            { kind: 'reg', reg },
            { kind: 'imm', value: i },
          ],
          dst: r,
        });
        deferred.push(...this.matchShape(r, f, `${argName}[${i}]`, bindNew));
      });
    }
    return deferred;
  }

  lower(): VMFunction {
    const fn = this.fn;
    for (const p of fn.params) this.regs.set(p, this.reg());
    const deferred = fn.params.flatMap((p) => this.matchShape(this.regOf(p), p.structInfo, p.name, true));
    for (const d of deferred) this.matchShape(d.reg, d.sinfo, d.arg, false);
    const out = this.expr(fn.body);
    this.code.push({ op: 'Ret', src: out });
    return {
      name: this.name,
      params: fn.params.map((p) => ({ name: p.name, sig: sigOf(p.structInfo) })),
      ret: sigOf(fn.retStructInfo),
      numRegisters: this.nextReg,
      heapSize: this.heapNames.length,
      numStorageSlots: this.nextStorage,
      code: this.code,
      heapNames: this.heapNames,
    };
  }

  private binding(b: Binding): void {
    if (b.kind === 'relax.MatchCast') {
      const r = this.expr(b.value);
      this.matchShape(r, b.structInfo, b.var.name, true);
      this.regs.set(b.var, r);
      return;
    }
    const v = b.value;
    if (v.kind === 'relax.Call' && v.op.kind === 'relax.Op' && v.op.name === 'relax.memory.alloc_storage') {
      const slot = this.nextStorage++;
      const size = v.args[0];
      if (size.kind !== 'relax.PrimValue') this.fail('alloc_storage needs a PrimValue size');
      this.code.push({ op: 'AllocStorage', slot, bytes: this.intExpr(size.value), device: this.opts.device });
      this.storage.set(b.var, slot);
      return;
    }
    if (v.kind === 'relax.Var' || v.kind === 'relax.DataflowVar') {
      const s = this.storage.get(v);
      if (s !== undefined) {
        this.storage.set(b.var, s);
        return;
      }
    }
    this.regs.set(b.var, this.expr(v));
  }

  private args(exprs: readonly Expr[]): Arg[] {
    return exprs.map((a): Arg => {
      if (a.kind === 'relax.PrimValue') {
        if (a.value.kind === 'IntImm' || a.value.kind === 'FloatImm')
          return { kind: 'imm', value: a.value.value };
        return { kind: 'dim', expr: this.intExpr(a.value) };
      }
      if (a.kind === 'relax.StringImm') return { kind: 'str', value: a.value };
      return { kind: 'reg', reg: this.expr(a) };
    });
  }

  /** Lower `e`, returning the register holding its value. */
  expr(e: Expr): number {
    switch (e.kind) {
      case 'relax.Var':
      case 'relax.DataflowVar':
        return this.regOf(e);
      case 'relax.Constant': {
        const dst = this.reg();
        this.code.push({ op: 'LoadConst', dst, index: this.prog.constant(e) });
        return dst;
      }
      case 'relax.Tuple': {
        const dst = this.reg();
        this.code.push({
          op: 'CallBuiltin',
          name: 'tuple.make',
          args: e.fields.map((f) => ({ kind: 'reg', reg: this.expr(f) })),
          dst,
        });
        return dst;
      }
      case 'relax.TupleGetItem': {
        const t = this.expr(e.tuple);
        const dst = this.reg();
        this.code.push({
          op: 'CallBuiltin',
          name: 'tuple.get',
          args: [
            { kind: 'reg', reg: t },
            { kind: 'imm', value: e.index },
          ],
          dst,
        });
        return dst;
      }
      case 'relax.ShapeExpr': {
        const dst = this.reg();
        this.code.push({ op: 'MakeShape', dst, dims: e.values.map((d) => this.intExpr(d)) });
        return dst;
      }
      case 'relax.PrimValue': {
        const dst = this.reg();
        if (e.value.kind === 'IntImm' || e.value.kind === 'FloatImm') {
          this.code.push({ op: 'LoadImm', dst, value: e.value.value });
          return dst;
        }
        const sh = this.reg();
        this.code.push({ op: 'MakeShape', dst: sh, dims: [this.intExpr(e.value)] });
        this.code.push({
          op: 'CallBuiltin',
          name: 'shape.get',
          args: [
            { kind: 'reg', reg: sh },
            { kind: 'imm', value: 0 },
          ],
          dst,
        });
        return dst;
      }
      case 'relax.StringImm': {
        const dst = this.reg();
        this.code.push({ op: 'LoadImm', dst, value: e.value });
        return dst;
      }
      case 'relax.Call':
        return this.call(e);
      case 'relax.SeqExpr':
        for (const blk of e.blocks) for (const b of blk.bindings) this.binding(b);
        return this.expr(e.body);
      case 'relax.If': {
        const cond = this.expr(e.cond);
        const dst = this.reg();
        const branch = { op: 'If', cond, else: -1 } as { op: 'If'; cond: number; else: number };
        this.code.push(branch);
        this.code.push({ op: 'Move', dst, src: this.expr(e.trueBranch) });
        const jump = { op: 'Goto', target: -1 } as { op: 'Goto'; target: number };
        this.code.push(jump);
        branch.else = this.code.length;
        this.code.push({ op: 'Move', dst, src: this.expr(e.falseBranch) });
        jump.target = this.code.length;
        return dst;
      }
      default:
        return this.fail(`cannot lower a ${e.kind} value`);
    }
  }

  /** Destination-passing kernel call: inputs, outputs, then the ABI's scalar/dim args. */
  private callKernel(
    name: string,
    inputs: readonly Expr[],
    outputs: readonly number[],
    tirVars: readonly PrimExpr[],
  ): void {
    const prim = getFunction(this.mod, name);
    if (prim?.kind !== 'PrimFunc') this.fail(`'${name}' is not a PrimFunc of the module`);
    const pf = prim as unknown as PrimFunc;
    const inRegs = inputs.map((a) => this.expr(a));
    const tensorRegs = [...inRegs, ...outputs];
    const tensorSInfos: (StructInfo | undefined)[] = [
      ...inputs.map((a) => a.structInfo),
      ...outputs.map(() => undefined),
    ];
    const abi = kernelABI(pf);
    const bufferParams = pf.params.filter((p) => p.kind === 'Buffer').length;
    if (bufferParams !== tensorRegs.length) {
      this.fail(`kernel '${name}' takes ${bufferParams} tensors, the call passes ${tensorRegs.length}`);
    }
    const paramToTensor = new Map<number, number>();
    const paramToScalar = new Map<number, number>();
    let t = 0;
    let s = 0;
    pf.params.forEach((p, i) => {
      if (p.kind === 'Buffer') paramToTensor.set(i, t++);
      else paramToScalar.set(i, s++);
    });
    const args: Arg[] = abi.map((a): Arg => {
      if (a.kind === 'buffer') return { kind: 'reg', reg: tensorRegs[paramToTensor.get(a.param)!] };
      if (a.kind === 'scalar') {
        const v = tirVars[paramToScalar.get(a.param)!];
        if (!v) this.fail(`kernel '${name}' needs scalar '${a.name}' but the call passes no value for it`);
        return v.kind === 'IntImm' || v.kind === 'FloatImm'
          ? { kind: 'imm', value: v.value }
          : { kind: 'dim', expr: this.intExpr(v) };
      }
      // a symbolic dim of a tensor argument: from its StructInfo, else read at run time
      const ti = paramToTensor.get(a.param)!;
      const sinfo = tensorSInfos[ti];
      const shape = sinfo?.kind === 'relax.TensorStructInfo' ? tensorShape(sinfo) : undefined;
      const d = shape?.[a.dim];
      if (d && this.allBound(d)) return { kind: 'dim', expr: this.intExpr(d) };
      const sh = this.reg();
      const dst = this.reg();
      this.code.push({
        op: 'CallBuiltin',
        name: 'shape_of',
        args: [{ kind: 'reg', reg: tensorRegs[ti] }],
        dst: sh,
      });
      this.code.push({
        op: 'CallBuiltin',
        name: 'shape.get',
        args: [
          { kind: 'reg', reg: sh },
          { kind: 'imm', value: a.dim },
        ],
        dst,
      });
      return { kind: 'reg', reg: dst };
    });
    this.prog.kernels.add(name);
    this.code.push({ op: 'CallKernel', module: this.opts.kernelModule, symbol: name, args });
  }

  private allocOutput(o: TensorStructInfo): number {
    const shape = tensorShape(o);
    if (!shape || !o.dtype) this.fail('an output needs a known shape and dtype');
    const dst = this.reg();
    this.code.push({
      op: 'AllocTensor',
      dst,
      shape: { kind: 'dims', dims: shape.map((d) => this.intExpr(d)) },
      dtype: (o.dtype as DataType).str,
      device: this.opts.device,
    });
    return dst;
  }

  private call(c: Call): number {
    const op = c.op;
    if (op.kind === 'relax.GlobalVar') {
      const f = getFunction(this.mod, op.name);
      if (f?.kind === 'PrimFunc') {
        // After CallTIRRewrite: f(inputs..., outputs..., [tir_vars]) — outputs are the
        // trailing tensor args; the kernel knows how many buffers it takes.
        const pf = f as unknown as PrimFunc;
        const nbuf = pf.params.filter((p) => p.kind === 'Buffer').length;
        const tensorArgs = c.args.filter((a) => a.kind !== 'relax.ShapeExpr');
        const tirVars = c.args.find((a) => a.kind === 'relax.ShapeExpr');
        if (tensorArgs.length !== nbuf)
          this.fail(`kernel '${op.name}' takes ${nbuf} tensors, the call passes ${tensorArgs.length}`);
        this.callKernel(op.name, tensorArgs, [], tirVars?.kind === 'relax.ShapeExpr' ? tirVars.values : []);
        const dst = this.reg();
        this.code.push({ op: 'LoadImm', dst, value: 0 });
        return dst;
      }
      if (f?.kind === 'relax.Function') {
        const dst = this.reg();
        this.code.push({ op: 'CallFunc', func: op.name, args: c.args.map((a) => this.expr(a)), dst });
        return dst;
      }
      return this.fail(`call of unknown global '${op.name}'`);
    }
    if (op.kind === 'relax.ExternFunc') {
      const dst = this.reg();
      this.code.push({ op: 'CallBuiltin', name: op.globalSymbol, args: this.args(c.args), dst });
      return dst;
    }
    if (op.kind !== 'relax.Op')
      return this.fail('calls of function-valued variables are not supported by the VM yet');
    switch (op.name) {
      case 'relax.call_tir': {
        const gv = c.args[0];
        if (gv.kind !== 'relax.GlobalVar') this.fail('call_tir needs a GlobalVar callee');
        const argsTuple = c.args[1];
        const inputs = argsTuple.kind === 'relax.Tuple' ? argsTuple.fields : [argsTuple];
        const out = c.sinfoArgs[0];
        const outs = out.kind === 'relax.TupleStructInfo' ? out.fields : [out];
        const outRegs = outs.map((o) => {
          if (o.kind !== 'relax.TensorStructInfo') this.fail('call_tir outputs must be tensors');
          return this.allocOutput(o);
        });
        const tv = c.args[2];
        this.callKernel(gv.name, inputs, outRegs, tv?.kind === 'relax.ShapeExpr' ? tv.values : []);
        if (outRegs.length === 1 && out.kind !== 'relax.TupleStructInfo') return outRegs[0];
        const dst = this.reg();
        this.code.push({
          op: 'CallBuiltin',
          name: 'tuple.make',
          args: outRegs.map((r) => ({ kind: 'reg', reg: r })),
          dst,
        });
        return dst;
      }
      case 'relax.builtin.alloc_tensor': {
        const s = c.structInfo;
        if (s?.kind !== 'relax.TensorStructInfo') this.fail('alloc_tensor without tensor StructInfo');
        return this.allocOutput(s);
      }
      case 'relax.memory.alloc_tensor': {
        const st = c.args[0];
        const slot =
          st.kind === 'relax.Var' || st.kind === 'relax.DataflowVar' ? this.storage.get(st) : undefined;
        if (slot === undefined) this.fail('memory.alloc_tensor needs a storage variable');
        const off = c.args[1];
        const shape = c.args[2];
        if (off.kind !== 'relax.PrimValue' || shape.kind !== 'relax.ShapeExpr')
          this.fail('memory.alloc_tensor(storage, offset, shape)');
        const dst = this.reg();
        this.code.push({
          op: 'AllocTensorFromStorage',
          dst,
          slot,
          offset: this.intExpr(off.value),
          shape: { kind: 'dims', dims: shape.values.map((d) => this.intExpr(d)) },
          dtype: String((c.attrs as { dtype?: string }).dtype),
        });
        return dst;
      }
      case 'relax.memory.kill_storage': {
        const st = c.args[0];
        const slot =
          st.kind === 'relax.Var' || st.kind === 'relax.DataflowVar' ? this.storage.get(st) : undefined;
        if (slot === undefined) this.fail('kill_storage needs a storage variable');
        this.code.push({ op: 'KillStorage', slot });
        const dst = this.reg();
        this.code.push({ op: 'LoadImm', dst, value: 0 });
        return dst;
      }
      case 'relax.shape_of': {
        const dst = this.reg();
        this.code.push({
          op: 'CallBuiltin',
          name: 'shape_of',
          args: [{ kind: 'reg', reg: this.expr(c.args[0]) }],
          dst,
        });
        return dst;
      }
      default:
        return this.fail(`operator '${op.name}' has no VM lowering (run relax.LegalizeOps first)`);
    }
  }
}

/** Lower the Relax functions of `mod` to VM bytecode. */
export function lowerToVM(mod: IRModule, options: VMLoweringOptions = {}): VMProgram {
  const prog = new ProgramBuilder();
  const opts = { kernelModule: options.kernelModule ?? 'cpu', device: options.device ?? 0 };
  const functions: VMFunction[] = [];
  for (const [name, f] of moduleEntries(mod)) {
    if (f.kind !== 'relax.Function') continue;
    if (options.functions && !options.functions.includes(name)) continue;
    functions.push(new FunctionLowering(name, f as unknown as RelaxFunction, mod, prog, opts).lower());
  }
  if (functions.length === 0)
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      'VM lowering: the module has no Relax function to lower',
    );
  return { functions, constants: prog.constants, kernels: [...prog.kernels].sort() };
}
