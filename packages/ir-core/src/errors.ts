// KilnError: every failure a user can cause surfaces as one of these, with a stable
// `code` that tests and callers match on, and the IR location when there is one.

/** A position in a source text (a model file, an IR text, a trace). */
export interface Span {
  readonly source?: string;
  readonly line: number;
  readonly column: number;
}

/**
 * Stable error codes. The list is open (plugins may raise their own codes), these are
 * the ones Kiln itself uses.
 */
export const ErrorCodes = {
  INTERNAL: 'INTERNAL',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  DTYPE_PARSE: 'DTYPE_PARSE',
  DTYPE_MISMATCH: 'DTYPE_MISMATCH',
  SHAPE_MISMATCH: 'SHAPE_MISMATCH',
  PARSE_ERROR: 'PARSE_ERROR',
  DUPLICATE_NAME: 'DUPLICATE_NAME',
  UNKNOWN_NAME: 'UNKNOWN_NAME',
  UNKNOWN_PASS: 'UNKNOWN_PASS',
  PASS_REQUIREMENT: 'PASS_REQUIREMENT',
  PASS_FAILED: 'PASS_FAILED',
  WELL_FORMED: 'WELL_FORMED',
  PLUGIN_OPTIONS: 'PLUGIN_OPTIONS',
  PLUGIN_DUPLICATE: 'PLUGIN_DUPLICATE',
  PLUGIN_INVALID: 'PLUGIN_INVALID',
  UNKNOWN_TARGET: 'UNKNOWN_TARGET',
  TARGET_PARSE: 'TARGET_PARSE',
  DIVIDE_BY_ZERO: 'DIVIDE_BY_ZERO',
  UNSUPPORTED: 'UNSUPPORTED',
} as const;
export type KnownErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
/** Any error code: the known ones, or a plugin's own (upper snake case by convention). */
export type ErrorCode = KnownErrorCode | (string & {});

export interface KilnErrorOptions {
  span?: Span;
  /** Extra lines shown under the message (hints, the offending IR text). */
  notes?: readonly string[];
  cause?: unknown;
  /** Machine-readable detail for callers (e.g. the list of unsupported ops). */
  details?: Readonly<Record<string, unknown>>;
}

export class KilnError extends Error {
  readonly code: ErrorCode;
  readonly span?: Span;
  readonly notes: readonly string[];
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: KilnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KilnError';
    this.code = code;
    this.span = options.span;
    this.notes = options.notes ?? [];
    this.details = options.details;
  }

  /** The message with its location and notes, as the CLI shows it. */
  format(): string {
    const where = this.span ? `${this.span.source ?? '<input>'}:${this.span.line}:${this.span.column}: ` : '';
    const notes = this.notes.map((n) => `\n  note: ${n}`).join('');
    return `${where}error[${this.code}]: ${this.message}${notes}`;
  }
}

export function isKilnError(e: unknown, code?: ErrorCode): e is KilnError {
  return e instanceof KilnError && (code === undefined || e.code === code);
}

/** Raise an internal-invariant failure: a bug in Kiln, not in the user's input. */
export function internalError(message: string): never {
  throw new KilnError(ErrorCodes.INTERNAL, `internal error: ${message}`);
}

export function assertNever(x: never, what = 'value'): never {
  throw new KilnError(ErrorCodes.INTERNAL, `internal error: unexpected ${what} ${JSON.stringify(x)}`);
}
