// Bytecode validation, run once when an executable is created: every register,
// heap slot, storage slot, jump target, constant, device, function, kernel and
// builtin an instruction names must exist. The interpreter then trusts indices.
import { dtypeInfo } from '../dtype.js';
import { RuntimeErrorCodes, runtimeError } from '../errors.js';
import type { Arg, DimPattern, Instr, ShapeOperand, VMFunction } from './bytecode.js';
import { isValidIntExpr } from './int-expr.js';

export interface ValidationScope {
  readonly source: string;
  readonly functions: ReadonlySet<string>;
  readonly numConstants: number;
  readonly numDevices: number;
  /** Throws UNKNOWN_KERNEL itself when the kernel is missing. */
  checkKernel(module: string, symbol: string, where: string): void;
  hasBuiltin(name: string): boolean;
}

export function validateFunction(fn: VMFunction, scope: ValidationScope): void {
  const at = (pc: number) => `${scope.source}: function '${fn.name}' pc ${pc}`;
  const bad = (pc: number, why: string): never =>
    runtimeError(RuntimeErrorCodes.BYTECODE_INVALID, `${at(pc)}: ${why}`);
  if (fn.params.length > fn.numRegisters)
    bad(0, `${fn.params.length} parameters but only ${fn.numRegisters} registers`);
  for (const p of fn.params as readonly unknown[]) {
    const q = p as { name?: unknown; sig?: { kind?: unknown } };
    if (typeof q?.name !== 'string' || !isSig(q.sig)) bad(0, 'malformed parameter signature');
  }
  if (!isSig(fn.ret)) bad(0, 'malformed return signature');
  const n = fn.code.length;
  const reg = (pc: number, r: unknown) => {
    if (!Number.isInteger(r) || (r as number) < 0 || (r as number) >= fn.numRegisters)
      bad(pc, `register ${String(r)} out of range`);
  };
  const slot = (pc: number, s: unknown) => {
    if (!Number.isInteger(s) || (s as number) < 0 || (s as number) >= fn.heapSize)
      bad(pc, `heap slot ${String(s)} out of range`);
  };
  const storage = (pc: number, s: unknown) => {
    if (!Number.isInteger(s) || (s as number) < 0 || (s as number) >= fn.numStorageSlots)
      bad(pc, `storage slot ${String(s)} out of range`);
  };
  const expr = (pc: number, e: unknown) => {
    if (!isValidIntExpr(e, fn.heapSize)) bad(pc, 'malformed shape expression');
  };
  const target = (pc: number, t: unknown) => {
    if (!Number.isInteger(t) || (t as number) < 0 || (t as number) >= n)
      bad(pc, `jump target ${String(t)} out of range`);
  };
  const device = (pc: number, d: unknown) => {
    if (!Number.isInteger(d) || (d as number) < 0 || (d as number) >= scope.numDevices)
      bad(pc, `device index ${String(d)} out of range`);
  };
  const dtype = (pc: number, d: unknown) => {
    try {
      dtypeInfo(String(d));
    } catch {
      bad(pc, `unknown dtype '${String(d)}'`);
    }
  };
  const shape = (pc: number, s: ShapeOperand) => {
    if (s?.kind === 'reg') reg(pc, s.reg);
    else if (s?.kind === 'dims' && Array.isArray(s.dims)) for (const d of s.dims) expr(pc, d);
    else bad(pc, 'malformed shape operand');
  };
  const args = (pc: number, as: readonly Arg[], allowStr: boolean) => {
    if (!Array.isArray(as)) bad(pc, 'malformed argument list');
    for (const a of as) {
      switch (a?.kind) {
        case 'reg':
          reg(pc, a.reg);
          break;
        case 'imm':
          if (typeof a.value !== 'number' && typeof a.value !== 'boolean') bad(pc, 'malformed immediate');
          break;
        case 'str':
          if (!allowStr || typeof a.value !== 'string')
            bad(pc, 'string arguments are only allowed for builtins');
          break;
        case 'dim':
          expr(pc, a.expr);
          break;
        default:
          bad(pc, 'malformed argument');
      }
    }
  };
  const pattern = (pc: number, d: DimPattern) => {
    switch (d?.kind) {
      case 'int':
        if (!Number.isSafeInteger(d.value)) bad(pc, 'malformed dim pattern');
        break;
      case 'bind':
        slot(pc, d.slot);
        break;
      case 'expr':
        expr(pc, d.expr);
        break;
      case 'any':
        break;
      default:
        bad(pc, 'malformed dim pattern');
    }
  };

  fn.code.forEach((ins: Instr, pc) => {
    switch (ins?.op) {
      case 'LoadConst':
        reg(pc, ins.dst);
        if (!Number.isInteger(ins.index) || ins.index < 0 || ins.index >= scope.numConstants)
          bad(pc, `constant ${ins.index} out of range`);
        break;
      case 'LoadImm':
        reg(pc, ins.dst);
        if (!['number', 'boolean', 'string'].includes(typeof ins.value)) bad(pc, 'malformed immediate');
        break;
      case 'Move':
        reg(pc, ins.dst);
        reg(pc, ins.src);
        break;
      case 'AllocTensor':
        reg(pc, ins.dst);
        shape(pc, ins.shape);
        dtype(pc, ins.dtype);
        device(pc, ins.device);
        break;
      case 'AllocStorage':
        storage(pc, ins.slot);
        expr(pc, ins.bytes);
        device(pc, ins.device);
        break;
      case 'AllocTensorFromStorage':
        reg(pc, ins.dst);
        storage(pc, ins.slot);
        expr(pc, ins.offset);
        shape(pc, ins.shape);
        dtype(pc, ins.dtype);
        break;
      case 'KillStorage':
        storage(pc, ins.slot);
        break;
      case 'CallKernel':
        args(pc, ins.args, false);
        scope.checkKernel(ins.module, ins.symbol, at(pc));
        break;
      case 'CallBuiltin':
        args(pc, ins.args, true);
        if (ins.dst !== undefined) reg(pc, ins.dst);
        if (!scope.hasBuiltin(ins.name)) {
          runtimeError(RuntimeErrorCodes.UNKNOWN_BUILTIN, `${at(pc)}: unknown builtin '${ins.name}'`);
        }
        break;
      case 'CallFunc':
        reg(pc, ins.dst);
        if (!Array.isArray(ins.args)) bad(pc, 'malformed argument list');
        for (const r of ins.args) reg(pc, r);
        if (!scope.functions.has(ins.func))
          runtimeError(RuntimeErrorCodes.UNKNOWN_FUNCTION, `${at(pc)}: calls unknown function '${ins.func}'`);
        break;
      case 'MatchShape':
        reg(pc, ins.reg);
        if (ins.valueKind !== 'tensor' && ins.valueKind !== 'shape')
          bad(pc, 'MatchShape valueKind must be tensor or shape');
        if (ins.dtype !== undefined) dtype(pc, ins.dtype);
        if (ins.dims !== undefined && !Array.isArray(ins.dims)) bad(pc, 'malformed dims');
        if (ins.dims !== undefined) for (const d of ins.dims) pattern(pc, d);
        if (typeof ins.context?.func !== 'string' || typeof ins.context?.arg !== 'string')
          bad(pc, 'MatchShape needs a context');
        break;
      case 'ShapeExpr':
        slot(pc, ins.dst);
        expr(pc, ins.expr);
        break;
      case 'MakeShape':
        reg(pc, ins.dst);
        if (!Array.isArray(ins.dims)) bad(pc, 'malformed dims');
        for (const d of ins.dims) expr(pc, d);
        break;
      case 'If':
        reg(pc, ins.cond);
        target(pc, ins.else);
        break;
      case 'Goto':
        target(pc, ins.target);
        break;
      case 'Ret':
        reg(pc, ins.src);
        break;
      default:
        bad(pc, `unknown opcode '${String((ins as { op?: unknown })?.op)}'`);
    }
  });
}

const SIG_KINDS = new Set(['tensor', 'tuple', 'shape', 'scalar', 'object']);
function isSig(s: unknown): boolean {
  if (typeof s !== 'object' || s === null) return false;
  const k = (s as { kind?: unknown }).kind;
  if (typeof k !== 'string' || !SIG_KINDS.has(k)) return false;
  if (k === 'tuple') {
    const f = (s as { fields?: unknown }).fields;
    return Array.isArray(f) && f.every(isSig);
  }
  return true;
}
