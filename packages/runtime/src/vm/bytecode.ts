// The Kiln VM instruction set: the contract between the Relax VM lowering (the
// compiler side) and this interpreter. Everything here is plain JSON data so an
// artifact's manifest stores bytecode as is; nothing refers to compiler types.
//
// Machine model (one frame per function call):
//   - registers  r0..r(numRegisters-1): hold Values (Tensor, tuple = array, Shape,
//     scalar number/bigint/boolean, string). Parameters arrive in r0..r(nparams-1).
//   - shape heap h0..h(heapSize-1): int64 slots (JS numbers, safe integers) holding
//     the values of symbolic dimensions. `MatchShape` binds a slot on first sight
//     and checks it afterwards; `ShapeExpr` computes derived values. Slots start unset.
//   - storage slots s0..s(numStorageSlots-1): raw device allocations made by
//     `AllocStorage` following the compiler's static memory plan; tensors are
//     carved out of them by `AllocTensorFromStorage`. On `Ret` every storage and
//     tensor allocated by the frame that is not reachable from the returned value
//     goes back to the memory pool; reachable ones pass to the caller.
//   - pc: index into `code`. Control flow is `If`/`Goto` with absolute targets.
//
// One function body serves every value of its symbolic dims: sizes live in the
// heap, never baked into instructions.

/** Version of the bytecode semantics; bumped when an instruction changes meaning. */
export const BYTECODE_VERSION = 1;

/** A register index. */
export type Reg = number;
/** A shape-heap slot index. */
export type HeapSlot = number;
/** A storage slot index. */
export type StorageSlot = number;

/** Binary integer operators of `IntExpr`. floordiv/floormod round toward -infinity (like Python / TIR). */
export type IntBinaryOp = 'add' | 'sub' | 'mul' | 'floordiv' | 'floormod' | 'min' | 'max';

/**
 * A small serialized int64 expression over shape-heap slots. Evaluating it with an
 * unset slot is an error (code VM_UNBOUND_DIM).
 */
export type IntExpr =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'slot'; readonly slot: HeapSlot }
  | { readonly kind: IntBinaryOp; readonly a: IntExpr; readonly b: IntExpr };

/**
 * Where a shape comes from: a register holding a `Shape` value, or dimensions
 * written inline as expressions over the heap (the common case after lowering).
 */
export type ShapeOperand =
  | { readonly kind: 'reg'; readonly reg: Reg }
  | { readonly kind: 'dims'; readonly dims: readonly IntExpr[] };

/**
 * An argument of `CallKernel` / `CallBuiltin`:
 *  - `reg`: the register's value (Tensor, scalar, tuple, Shape, ...);
 *  - `imm`: an immediate scalar (numbers are passed to kernels as the C type their
 *     signature declares); `str` an immediate string (builtin options, e.g. a dtype);
 *  - `dim`: an int64 computed from the shape heap (e.g. the `n` of a symbolic kernel).
 */
export type Arg =
  | { readonly kind: 'reg'; readonly reg: Reg }
  | { readonly kind: 'imm'; readonly value: number | boolean }
  | { readonly kind: 'str'; readonly value: string }
  | { readonly kind: 'dim'; readonly expr: IntExpr };

/**
 * One dimension of a `MatchShape` pattern:
 *  - `int`: must equal the constant;
 *  - `bind`: a symbolic dim living in heap slot `slot`: bound on first sight
 *     (slot unset), checked on every later sight;
 *  - `expr`: must equal the expression (all its slots bound already);
 *  - `any`: not checked.
 */
export type DimPattern =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'bind'; readonly slot: HeapSlot; readonly name?: string }
  | { readonly kind: 'expr'; readonly expr: IntExpr; readonly name?: string }
  | { readonly kind: 'any' };

/** Names the thing being matched in error messages: "in function 'main', argument 'x'". */
export interface MatchContext {
  readonly func: string;
  /** Parameter / value name (e.g. `x`, `lv3`, `return value`). */
  readonly arg: string;
}

/** The instructions. Each has a discriminating `op`. */
export type Instr =
  /** dst ← constants[index] (a Tensor viewing the artifact's constant section, no copy). */
  | { readonly op: 'LoadConst'; readonly dst: Reg; readonly index: number }
  /** dst ← an immediate scalar or string. */
  | { readonly op: 'LoadImm'; readonly dst: Reg; readonly value: number | boolean | string }
  /** dst ← src. Values are immutable references; no data is copied. */
  | { readonly op: 'Move'; readonly dst: Reg; readonly src: Reg }
  /**
   * dst ← a fresh contiguous tensor from the device memory pool. `device` indexes
   * the executable's device list (`Artifact.devices`, 0 = the host CPU).
   */
  | {
      readonly op: 'AllocTensor';
      readonly dst: Reg;
      readonly shape: ShapeOperand;
      readonly dtype: string;
      readonly device: number;
    }
  /**
   * storage[slot] ← `bytes` bytes on `device` (from the memory pool; 64-byte aligned).
   * Re-allocating a slot that still holds storage does not free the old storage
   * (tensors may still view it); it is reclaimed at `Ret`. Use `KillStorage` to
   * hand memory back early.
   */
  | {
      readonly op: 'AllocStorage';
      readonly slot: StorageSlot;
      readonly bytes: IntExpr;
      readonly device: number;
    }
  /** dst ← a contiguous tensor placed at byte `offset` inside storage[slot] (bounds-checked). */
  | {
      readonly op: 'AllocTensorFromStorage';
      readonly dst: Reg;
      readonly slot: StorageSlot;
      readonly offset: IntExpr;
      readonly shape: ShapeOperand;
      readonly dtype: string;
    }
  /**
   * Returns storage[slot] to the pool early (the plan says nothing reads it any
   * more). Passing a tensor of killed storage to a kernel, or returning one, is
   * reported as BYTECODE_INVALID.
   */
  | { readonly op: 'KillStorage'; readonly slot: StorageSlot }
  /**
   * Calls kernel `symbol` of kernel module `module` (a name in `Artifact.kernelModules`).
   * Destination-passing: outputs are among `args` (already allocated); no result.
   */
  | {
      readonly op: 'CallKernel';
      readonly module: string;
      readonly symbol: string;
      readonly args: readonly Arg[];
    }
  /** dst ← builtin `name`(args). See `BUILTINS` below for the names the runtime ships. */
  | { readonly op: 'CallBuiltin'; readonly name: string; readonly args: readonly Arg[]; readonly dst?: Reg }
  /** dst ← VM function `func`(registers args) — a new frame. */
  | { readonly op: 'CallFunc'; readonly func: string; readonly args: readonly Reg[]; readonly dst: Reg }
  /**
   * Checks the value in `reg` against a declared type: a Tensor (ndim, dtype if
   * given, each dim against its pattern) or a Shape value (length and dims).
   * Errors: SHAPE_MISMATCH / DTYPE_MISMATCH naming function, argument and dimension.
   * `dims` omitted = any rank. `dtype` omitted = any dtype.
   */
  | {
      readonly op: 'MatchShape';
      readonly reg: Reg;
      readonly valueKind: 'tensor' | 'shape';
      readonly dtype?: string;
      readonly dims?: readonly DimPattern[];
      readonly context: MatchContext;
    }
  /** heap[dst] ← expr. */
  | { readonly op: 'ShapeExpr'; readonly dst: HeapSlot; readonly expr: IntExpr }
  /** dst ← Shape(dims evaluated over the heap). */
  | { readonly op: 'MakeShape'; readonly dst: Reg; readonly dims: readonly IntExpr[] }
  /**
   * If the value in `cond` is false/0 (a boolean, a number, a bigint or a
   * one-element tensor), jump to `else`; otherwise fall through.
   */
  | { readonly op: 'If'; readonly cond: Reg; readonly else: number }
  /** pc ← target. */
  | { readonly op: 'Goto'; readonly target: number }
  /** Returns the value in `src` to the caller; ends the frame. */
  | { readonly op: 'Ret'; readonly src: Reg };

export type Opcode = Instr['op'];

/** A declared value type, for `Executable.functions()` and input arity/kind checks. */
export type ValueSig =
  | {
      readonly kind: 'tensor';
      readonly dtype?: string;
      /** Dims: numbers are static, strings name symbolic dims; omitted = unknown rank. */
      readonly shape?: readonly (number | string)[];
      readonly device?: number;
    }
  | { readonly kind: 'tuple'; readonly fields: readonly ValueSig[] }
  | { readonly kind: 'shape'; readonly dims?: readonly (number | string)[] }
  | { readonly kind: 'scalar'; readonly dtype: string }
  | { readonly kind: 'object' };

export interface ParamSig {
  readonly name: string;
  readonly sig: ValueSig;
}

/** One compiled function. */
export interface VMFunction {
  readonly name: string;
  readonly params: readonly ParamSig[];
  readonly ret: ValueSig;
  readonly numRegisters: number;
  readonly heapSize: number;
  readonly numStorageSlots: number;
  readonly code: readonly Instr[];
  /** Names of symbolic dims per heap slot, for messages and `kiln inspect`. */
  readonly heapNames?: readonly (string | undefined)[];
}

/**
 * Builtins shipped by the runtime (`CallBuiltin.name`):
 *  - `tuple.make`(v...)           → tuple of the args
 *  - `tuple.get`(tuple, imm i)    → element i
 *  - `shape_of`(tensor)           → its Shape
 *  - `shape.get`(shape, imm i)    → dim i (number)
 *  - `reshape`(tensor, shape)     → a view with the new shape (contiguous input, same element count)
 *  - `copy`(src[, dst])           → a contiguous copy of src (into dst when given; returns dst)
 *  - `to_device`(tensor, imm dev) → the tensor on device `dev` (no copy when already there)
 *  - `tensor.item`(tensor)        → the scalar of a one-element tensor
 * Embedders may add more with `Runtime.registerBuiltin`.
 */
export const BUILTINS = [
  'tuple.make',
  'tuple.get',
  'shape_of',
  'shape.get',
  'reshape',
  'copy',
  'to_device',
  'tensor.item',
] as const;
export type BuiltinName = (typeof BUILTINS)[number];

// Small constructors so hand-written bytecode (tests, the lowering) stays readable.
export const ie = {
  int: (value: number): IntExpr => ({ kind: 'int', value }),
  slot: (slot: HeapSlot): IntExpr => ({ kind: 'slot', slot }),
  bin: (kind: IntBinaryOp, a: IntExpr, b: IntExpr): IntExpr => ({ kind, a, b }),
  add: (a: IntExpr, b: IntExpr): IntExpr => ({ kind: 'add', a, b }),
  sub: (a: IntExpr, b: IntExpr): IntExpr => ({ kind: 'sub', a, b }),
  mul: (a: IntExpr, b: IntExpr): IntExpr => ({ kind: 'mul', a, b }),
  floordiv: (a: IntExpr, b: IntExpr): IntExpr => ({ kind: 'floordiv', a, b }),
  floormod: (a: IntExpr, b: IntExpr): IntExpr => ({ kind: 'floormod', a, b }),
  min: (a: IntExpr, b: IntExpr): IntExpr => ({ kind: 'min', a, b }),
  max: (a: IntExpr, b: IntExpr): IntExpr => ({ kind: 'max', a, b }),
};

export const arg = {
  reg: (reg: Reg): Arg => ({ kind: 'reg', reg }),
  imm: (value: number | boolean): Arg => ({ kind: 'imm', value }),
  str: (value: string): Arg => ({ kind: 'str', value }),
  dim: (expr: IntExpr): Arg => ({ kind: 'dim', expr }),
};

export const shapeOp = {
  reg: (reg: Reg): ShapeOperand => ({ kind: 'reg', reg }),
  dims: (...dims: (IntExpr | number)[]): ShapeOperand => ({
    kind: 'dims',
    dims: dims.map((d) => (typeof d === 'number' ? ie.int(d) : d)),
  }),
};
