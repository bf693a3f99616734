// RuntimeError: the runtime's own error type. The runtime must not import the
// compiler, so it cannot use @kiln/ir-core's KilnError; this class mirrors its
// shape (name 'KilnError', stable `code`, one-line message, optional notes and
// details) so callers handle both the same way: `if (err.code === 'SHAPE_MISMATCH')`.

/** Stable codes raised by the runtime. Tests and callers match on these. */
export const RuntimeErrorCodes = {
  INTERNAL: 'INTERNAL',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  DTYPE_PARSE: 'DTYPE_PARSE',
  DTYPE_MISMATCH: 'DTYPE_MISMATCH',
  SHAPE_MISMATCH: 'SHAPE_MISMATCH',
  NOT_CONTIGUOUS: 'NOT_CONTIGUOUS',
  UNSUPPORTED: 'UNSUPPORTED',
  UNKNOWN_DEVICE: 'UNKNOWN_DEVICE',
  DEVICE_MISMATCH: 'DEVICE_MISMATCH',
  OUT_OF_BOUNDS: 'OUT_OF_BOUNDS',
  ARTIFACT_MAGIC: 'ARTIFACT_MAGIC',
  ARTIFACT_VERSION: 'ARTIFACT_VERSION',
  ARTIFACT_CORRUPT: 'ARTIFACT_CORRUPT',
  ARTIFACT_IO: 'ARTIFACT_IO',
  UNKNOWN_LOADER: 'UNKNOWN_LOADER',
  MODULE_LOAD: 'MODULE_LOAD',
  NATIVE_UNAVAILABLE: 'NATIVE_UNAVAILABLE',
  UNKNOWN_FUNCTION: 'UNKNOWN_FUNCTION',
  UNKNOWN_KERNEL: 'UNKNOWN_KERNEL',
  UNKNOWN_BUILTIN: 'UNKNOWN_BUILTIN',
  KERNEL_FAILED: 'KERNEL_FAILED',
  ARITY_MISMATCH: 'ARITY_MISMATCH',
  TYPE_MISMATCH: 'TYPE_MISMATCH',
  BYTECODE_INVALID: 'BYTECODE_INVALID',
  VM_UNBOUND_DIM: 'VM_UNBOUND_DIM',
  DIVIDE_BY_ZERO: 'DIVIDE_BY_ZERO',
} as const;
export type KnownRuntimeErrorCode = (typeof RuntimeErrorCodes)[keyof typeof RuntimeErrorCodes];
export type RuntimeErrorCode = KnownRuntimeErrorCode | (string & {});

export interface RuntimeErrorOptions {
  notes?: readonly string[];
  cause?: unknown;
  details?: Readonly<Record<string, unknown>>;
}

export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  readonly notes: readonly string[];
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(code: RuntimeErrorCode, message: string, options: RuntimeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // Same name as the compiler's error so logs and `err.name` checks agree.
    this.name = 'KilnError';
    this.code = code;
    this.notes = options.notes ?? [];
    this.details = options.details;
  }

  /** The message with its notes, in the CLI's format. */
  format(): string {
    const notes = this.notes.map((n) => `\n  note: ${n}`).join('');
    return `error[${this.code}]: ${this.message}${notes}`;
  }
}

/** True for runtime errors and for any KilnError-shaped error (optionally with that code). */
export function isRuntimeError(e: unknown, code?: RuntimeErrorCode): e is RuntimeError {
  if (!(e instanceof Error) || e.name !== 'KilnError') return false;
  const c = (e as { code?: unknown }).code;
  return typeof c === 'string' && (code === undefined || c === code);
}

export function runtimeError(code: RuntimeErrorCode, message: string, options?: RuntimeErrorOptions): never {
  throw new RuntimeError(code, message, options);
}
