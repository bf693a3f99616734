// FunctionBuilder: assembles one VMFunction — hands out registers, heap slots
// and storage slots, resolves jump labels, and computes the frame sizes — so the
// Relax lowering (and hand-written tests) need not count indices by hand.
import { RuntimeErrorCodes, runtimeError } from '../errors.js';
import type { HeapSlot, Instr, ParamSig, Reg, StorageSlot, ValueSig, VMFunction } from './bytecode.js';

/** A forward-referencable jump target. */
export interface Label {
  readonly id: number;
}

type Pending = { readonly pc: number; readonly label: Label; readonly field: 'else' | 'target' };

export class FunctionBuilder {
  private readonly code: Instr[] = [];
  private nextReg: number;
  private readonly heapNames: (string | undefined)[] = [];
  private readonly namedSlots = new Map<string, HeapSlot>();
  private nextStorage = 0;
  private readonly labels: (number | undefined)[] = [];
  private readonly pending: Pending[] = [];
  /** Parameter registers, in order (r0..). */
  readonly paramRegs: readonly Reg[];

  constructor(
    readonly name: string,
    readonly params: readonly ParamSig[],
    private ret: ValueSig = { kind: 'object' },
  ) {
    this.paramRegs = params.map((_, i) => i);
    this.nextReg = params.length;
  }

  /** A fresh register. */
  reg(): Reg {
    return this.nextReg++;
  }

  /** The heap slot of symbolic dim `name` (one slot per name), or a fresh anonymous slot. */
  heapSlot(name?: string): HeapSlot {
    if (name !== undefined) {
      const hit = this.namedSlots.get(name);
      if (hit !== undefined) return hit;
    }
    const slot = this.heapNames.length;
    this.heapNames.push(name);
    if (name !== undefined) this.namedSlots.set(name, slot);
    return slot;
  }

  storageSlot(): StorageSlot {
    return this.nextStorage++;
  }

  label(): Label {
    this.labels.push(undefined);
    return { id: this.labels.length - 1 };
  }

  /** Places `label` at the next instruction. */
  bind(label: Label): void {
    if (this.labels[label.id] !== undefined)
      runtimeError(RuntimeErrorCodes.INVALID_ARGUMENT, `label ${label.id} bound twice`);
    this.labels[label.id] = this.code.length;
  }

  /** Appends an instruction; returns its pc. */
  emit(ins: Instr): number {
    this.code.push(ins);
    return this.code.length - 1;
  }

  /** `If cond else → label`. */
  ifFalse(cond: Reg, elseLabel: Label): number {
    const pc = this.emit({ op: 'If', cond, else: -1 });
    this.pending.push({ pc, label: elseLabel, field: 'else' });
    return pc;
  }

  goto(label: Label): number {
    const pc = this.emit({ op: 'Goto', target: -1 });
    this.pending.push({ pc, label, field: 'target' });
    return pc;
  }

  setReturnSig(ret: ValueSig): void {
    this.ret = ret;
  }

  /** The finished function (labels resolved, sizes computed). */
  finish(): VMFunction {
    const code = [...this.code];
    for (const p of this.pending) {
      const at = this.labels[p.label.id];
      if (at === undefined)
        runtimeError(
          RuntimeErrorCodes.INVALID_ARGUMENT,
          `function '${this.name}': label ${p.label.id} never bound`,
        );
      code[p.pc] =
        p.field === 'else'
          ? { ...(code[p.pc] as Extract<Instr, { op: 'If' }>), else: at }
          : { op: 'Goto', target: at };
    }
    return {
      name: this.name,
      params: this.params,
      ret: this.ret,
      numRegisters: this.nextReg,
      heapSize: this.heapNames.length,
      numStorageSlots: this.nextStorage,
      heapNames: [...this.heapNames],
      code,
    };
  }
}
