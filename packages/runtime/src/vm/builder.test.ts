// FunctionBuilder and disassembler tests.
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { FunctionBuilder } from './builder.js';
import { arg, ie } from './bytecode.js';
import { disassemble, formatIntExpr } from './disasm.js';

describe('FunctionBuilder', () => {
  it('assembles a function with labels and computes frame sizes', () => {
    // relu_or_copy(x: [n], flag) -> flag ? copy(x) : shape_of(x)
    const b = new FunctionBuilder('f', [
      { name: 'x', sig: { kind: 'tensor', dtype: 'float32', shape: ['n'] } },
      { name: 'flag', sig: { kind: 'scalar', dtype: 'bool' } },
    ]);
    const [x, flag] = b.paramRegs;
    const n = b.heapSlot('n');
    expect(b.heapSlot('n')).toBe(n);
    b.emit({
      op: 'MatchShape',
      reg: x,
      valueKind: 'tensor',
      dims: [{ kind: 'bind', slot: n }],
      context: { func: 'f', arg: 'x' },
    });
    const out = b.reg();
    const other = b.label();
    const end = b.label();
    b.ifFalse(flag, other);
    b.emit({ op: 'CallBuiltin', name: 'copy', args: [arg.reg(x)], dst: out });
    b.goto(end);
    b.bind(other);
    b.emit({ op: 'MakeShape', dst: out, dims: [ie.mul(ie.slot(n), ie.int(2))] });
    b.bind(end);
    b.emit({ op: 'Ret', src: out });
    const fn = b.finish();
    expect(fn).toMatchObject({ numRegisters: 3, heapSize: 1, numStorageSlots: 0, heapNames: ['n'] });
    expect(fn.code[1]).toEqual({ op: 'If', cond: 1, else: 4 });
    expect(fn.code[3]).toEqual({ op: 'Goto', target: 5 });

    const exe = createRuntime().load({
      kilnVersion: 't',
      target: 't',
      devices: ['cpu'],
      functions: [fn],
      constants: [],
      kernelModules: [],
    });
    const t = Tensor.from([1, 2, 3], [3]);
    expect((exe.call('f', t, true) as Tensor).toArray()).toEqual([1, 2, 3]);
    expect(exe.call('f', t, false)).toMatchObject({ dims: [6] });

    const text = disassemble(fn);
    expect(text).toContain('@f(x: Tensor([n], float32), flag: bool)');
    expect(text).toContain('if not r1 goto 4');
    expect(text).toContain('r2 = shape [n * 2]');
  });

  it('rejects unbound labels', () => {
    const b = new FunctionBuilder('g', []);
    b.goto(b.label());
    expect(() => b.finish()).toThrow(/never bound/);
  });

  it('formats expressions with precedence', () => {
    expect(formatIntExpr(ie.mul(ie.add(ie.slot(0), ie.int(1)), ie.slot(1)), ['n', 'm'])).toBe('(n + 1) * m');
    expect(formatIntExpr(ie.sub(ie.slot(0), ie.sub(ie.int(1), ie.int(2))))).toBe('h0 - (1 - 2)');
    expect(formatIntExpr(ie.floordiv(ie.slot(0), ie.int(4)))).toBe('floordiv(h0, 4)');
  });
});
