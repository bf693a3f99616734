// PassContext: the settings a pipeline runs under (opt level, target, disabled and
// required passes, per-pass options) plus the instruments observing it. Immutable;
// the only mutable part is a private run-depth counter that tells the outermost
// `run` (which opens and closes the instruments) from nested ones.
import type { Span } from '../errors.js';
import { ErrorCodes, KilnError } from '../errors.js';
import type { IRModule } from '../module.js';
import type { Target } from '../target/types.js';
import type { Pass } from './pass.js';

export type DiagnosticSeverity = 'error' | 'warning' | 'note';

export interface Diagnostic {
  readonly severity: DiagnosticSeverity;
  readonly message: string;
  /** The pass that reported it, when reported from inside one. */
  readonly pass?: string;
  readonly span?: Span;
}

/** Where passes send non-fatal findings (fatal ones are thrown KilnErrors). */
export interface DiagnosticSink {
  report(d: Diagnostic): void;
}

/** A sink that keeps what it is told, in order. */
export interface DiagnosticCollector extends DiagnosticSink {
  readonly all: readonly Diagnostic[];
}

export function createDiagnostics(): DiagnosticCollector {
  const all: Diagnostic[] = [];
  return {
    get all() {
      return all.slice();
    },
    report(d) {
      all.push(Object.freeze({ ...d }));
    },
  };
}

/**
 * Observes (and may veto) pass execution. Hooks are optional; the same instrument
 * object may be reused across runs.
 */
export interface PassInstrument {
  readonly name: string;
  /** Called when the outermost `run` under a context starts. */
  enterContext?(ctx: PassContext): void;
  /** Called when the outermost `run` ends, also when it threw. */
  exitContext?(ctx: PassContext): void;
  /** Return false to skip `pass` (in addition to opt level / disabled checks). */
  shouldRun?(pass: Pass, mod: IRModule): boolean;
  runBeforePass?(pass: Pass, mod: IRModule, ctx: PassContext): void;
  /** Called with the pass's output module. */
  runAfterPass?(pass: Pass, mod: IRModule, ctx: PassContext): void;
}

export interface PassContext {
  readonly optLevel: number;
  readonly target?: Target;
  readonly disabledPasses: readonly string[];
  readonly requiredPasses: readonly string[];
  /** Options per pass name, merged over the options a pass was bound to. */
  readonly passOptions: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly instruments: readonly PassInstrument[];
  readonly diagnostics: DiagnosticSink;
}

export interface PassContextOptions {
  optLevel?: number;
  target?: Target;
  disabledPasses?: readonly string[];
  requiredPasses?: readonly string[];
  passOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  instruments?: readonly PassInstrument[];
  diagnostics?: DiagnosticSink;
}

interface RunState {
  depth: number;
}
const runStates = new WeakMap<PassContext, RunState>();

export function createPassContext(options: PassContextOptions = {}): PassContext {
  const optLevel = options.optLevel ?? 2;
  if (!Number.isInteger(optLevel) || optLevel < 0) {
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `pass context: optLevel must be a non-negative integer, got ${optLevel}`,
    );
  }
  const ctx: PassContext = Object.freeze({
    optLevel,
    target: options.target,
    disabledPasses: Object.freeze([...(options.disabledPasses ?? [])]),
    requiredPasses: Object.freeze([...(options.requiredPasses ?? [])]),
    passOptions: Object.freeze({ ...(options.passOptions ?? {}) }),
    instruments: Object.freeze([...(options.instruments ?? [])]),
    diagnostics: options.diagnostics ?? createDiagnostics(),
  });
  runStates.set(ctx, { depth: 0 });
  return ctx;
}

/**
 * A new context with some settings replaced (instruments and diagnostics are shared).
 * It shares the run state of `ctx`, so a pass that runs sub-passes under a derived
 * context does not re-open the instruments in the middle of a run.
 */
export function extendPassContext(ctx: PassContext, overrides: PassContextOptions): PassContext {
  const derived = createPassContext({ ...ctx, ...overrides });
  runStates.set(derived, runStateOf(ctx));
  return derived;
}

/** Internal: the run-depth state of a context (contexts built by hand get one lazily). */
export function runStateOf(ctx: PassContext): RunState {
  let s = runStates.get(ctx);
  if (!s) {
    s = { depth: 0 };
    runStates.set(ctx, s);
  }
  return s;
}

/**
 * Whether the context lets `name` (with `optLevel`) run. Required passes always run;
 * otherwise a disabled pass or one above the context's opt level is skipped.
 */
export function passEnabled(ctx: PassContext, name: string, optLevel: number): boolean {
  if (ctx.requiredPasses.includes(name)) return true;
  if (ctx.disabledPasses.includes(name)) return false;
  return ctx.optLevel >= optLevel;
}
