// Human-readable bytecode listing, for `kiln inspect`, debugging and error notes.
import type { Arg, DimPattern, Instr, IntExpr, ShapeOperand, ValueSig, VMFunction } from './bytecode.js';

const PREC: Record<string, number> = { add: 1, sub: 1, mul: 2, floordiv: 3, floormod: 3, min: 3, max: 3 };

export function formatIntExpr(e: IntExpr, names?: readonly (string | undefined)[], outer = 0): string {
  switch (e.kind) {
    case 'int':
      return String(e.value);
    case 'slot':
      return names?.[e.slot] ?? `h${e.slot}`;
    case 'floordiv':
    case 'floormod':
    case 'min':
    case 'max':
      return `${e.kind}(${formatIntExpr(e.a, names)}, ${formatIntExpr(e.b, names)})`;
    default: {
      const p = PREC[e.kind];
      const op = e.kind === 'add' ? '+' : e.kind === 'sub' ? '-' : '*';
      const s = `${formatIntExpr(e.a, names, p)} ${op} ${formatIntExpr(e.b, names, p + 1)}`;
      return p < outer ? `(${s})` : s;
    }
  }
}

export function formatSig(sig: ValueSig): string {
  switch (sig.kind) {
    case 'tensor':
      return `Tensor(${sig.shape ? `[${sig.shape.join(', ')}]` : '?'}${sig.dtype ? `, ${sig.dtype}` : ''}${sig.device !== undefined ? `, dev${sig.device}` : ''})`;
    case 'tuple':
      return `(${sig.fields.map(formatSig).join(', ')})`;
    case 'shape':
      return `Shape(${sig.dims ? `[${sig.dims.join(', ')}]` : '?'})`;
    case 'scalar':
      return sig.dtype;
    case 'object':
      return 'Object';
  }
}

export function disassemble(fn: VMFunction): string {
  const names = fn.heapNames;
  const x = (e: IntExpr) => formatIntExpr(e, names);
  const shape = (s: ShapeOperand) => (s.kind === 'reg' ? `r${s.reg}` : `[${s.dims.map(x).join(', ')}]`);
  const a = (v: Arg) =>
    v.kind === 'reg'
      ? `r${v.reg}`
      : v.kind === 'dim'
        ? `{${x(v.expr)}}`
        : v.kind === 'str'
          ? JSON.stringify(v.value)
          : String(v.value);
  const dim = (d: DimPattern) =>
    d.kind === 'int'
      ? String(d.value)
      : d.kind === 'bind'
        ? `?${d.name ?? names?.[d.slot] ?? `h${d.slot}`}`
        : d.kind === 'expr'
          ? `=${x(d.expr)}`
          : '_';
  const one = (i: Instr): string => {
    switch (i.op) {
      case 'LoadConst':
        return `r${i.dst} = const[${i.index}]`;
      case 'LoadImm':
        return `r${i.dst} = ${JSON.stringify(i.value)}`;
      case 'Move':
        return `r${i.dst} = r${i.src}`;
      case 'AllocTensor':
        return `r${i.dst} = alloc_tensor ${shape(i.shape)} ${i.dtype} dev${i.device}`;
      case 'AllocStorage':
        return `s${i.slot} = alloc_storage ${x(i.bytes)} bytes dev${i.device}`;
      case 'AllocTensorFromStorage':
        return `r${i.dst} = alloc_tensor s${i.slot}+${x(i.offset)} ${shape(i.shape)} ${i.dtype}`;
      case 'KillStorage':
        return `kill s${i.slot}`;
      case 'CallKernel':
        return `call_kernel ${i.module}.${i.symbol}(${i.args.map(a).join(', ')})`;
      case 'CallBuiltin':
        return `${i.dst !== undefined ? `r${i.dst} = ` : ''}builtin ${i.name}(${i.args.map(a).join(', ')})`;
      case 'CallFunc':
        return `r${i.dst} = call @${i.func}(${i.args.map((r) => `r${r}`).join(', ')})`;
      case 'MatchShape':
        return `match r${i.reg} ${i.valueKind}${i.dims ? ` [${i.dims.map(dim).join(', ')}]` : ''}${i.dtype ? ` ${i.dtype}` : ''}  ; ${i.context.func}:${i.context.arg}`;
      case 'ShapeExpr':
        return `${names?.[i.dst] ?? `h${i.dst}`} = ${x(i.expr)}`;
      case 'MakeShape':
        return `r${i.dst} = shape [${i.dims.map(x).join(', ')}]`;
      case 'If':
        return `if not r${i.cond} goto ${i.else}`;
      case 'Goto':
        return `goto ${i.target}`;
      case 'Ret':
        return `ret r${i.src}`;
    }
  };
  const head = `@${fn.name}(${fn.params.map((p) => `${p.name}: ${formatSig(p.sig)}`).join(', ')}) -> ${formatSig(fn.ret)}  ; ${fn.numRegisters} regs, ${fn.heapSize} heap, ${fn.numStorageSlots} storage`;
  const width = String(fn.code.length).length;
  return [head, ...fn.code.map((i, pc) => `  ${String(pc).padStart(width)}  ${one(i)}`)].join('\n');
}
