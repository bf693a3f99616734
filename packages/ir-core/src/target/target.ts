// Target strings: `llvm -mtriple=x86_64-linux-gnu -mcpu=znver3 -mattr=+avx2,+fma
// -num-threads=2`, `cuda -arch=sm_90`, `vulkan`, `metal`, and kinds added by plugins.
// Each kind is a `TargetKindDef` that parses `-option=value` words and prints a
// target back; `targetToString` output parses to an equal object.
import { z } from 'zod';
import { ErrorCodes, KilnError } from '../errors.js';
import { strictSchema, validateOptions } from '../pass/options.js';
import type { HostInfo } from './host.js';
import { cpuFromCpuinfo, detectHostCPU, hostInfo, hostNumThreads, hostTriple, tripleArch } from './host.js';
import type {
  BuiltinTarget,
  CUDATarget,
  LLVMTarget,
  MetalTarget,
  PluginTarget,
  Target,
  TargetAttrValue,
  VulkanTarget,
} from './types.js';

/** A bare `-flag` parses to `true`. */
export type TargetOptionValue = string | true;

export interface TargetParseEnv {
  /** Host facts for kinds that detect defaults (`llvm`); missing fields read the machine. */
  host?: Partial<HostInfo>;
}

/** How one target kind parses and prints. */
export interface TargetKindDef {
  readonly kind: string;
  /** Accepted option names (without the dash), for error messages. */
  readonly options: readonly string[];
  parse(options: ReadonlyMap<string, TargetOptionValue>, env: TargetParseEnv): Target;
  /** The option words after the kind, e.g. `['-arch=sm_90']`. */
  print(target: Target): string[];
}

function optionError(kind: string, name: string, why: string): never {
  throw new KilnError(ErrorCodes.TARGET_PARSE, `target '${kind}': option '-${name}' ${why}`, {
    details: { kind, option: name },
  });
}

function str(kind: string, opts: ReadonlyMap<string, TargetOptionValue>, name: string): string | undefined {
  const v = opts.get(name);
  if (v === true) optionError(kind, name, 'needs a value');
  if (v === '') optionError(kind, name, 'needs a value');
  return v;
}

function int(kind: string, opts: ReadonlyMap<string, TargetOptionValue>, name: string, dflt: number): number {
  const v = str(kind, opts, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1)
    optionError(kind, name, `must be a positive integer, got '${v}'`);
  return n;
}

function bool(
  kind: string,
  opts: ReadonlyMap<string, TargetOptionValue>,
  name: string,
  dflt: boolean,
): boolean {
  const v = opts.get(name);
  if (v === undefined) return dflt;
  if (v === true || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return optionError(kind, name, `must be true or false, got '${v}'`);
}

function featureName(f: string): string {
  return f.replace(/^[+-]/, '');
}

/** Apply explicit `-mattr` entries over detected features (later entries win per name). */
function mergeFeatures(base: readonly string[], explicit: readonly string[]): string[] {
  const out = new Map<string, string>();
  for (const f of [...base, ...explicit]) out.set(featureName(f), f);
  return [...out.values()];
}

const LLVM_DEFAULTS = { keys: ['cpu'] } as const;

const llvmKind: TargetKindDef = {
  kind: 'llvm',
  options: ['mtriple', 'mcpu', 'mattr', 'num-threads'],
  parse(opts, env) {
    const explicitTriple = str('llvm', opts, 'mtriple');
    const explicitCpu = str('llvm', opts, 'mcpu');
    const mattr = str('llvm', opts, 'mattr');
    const explicitFeatures = mattr === undefined ? [] : mattr.split(',').filter(Boolean);
    for (const f of explicitFeatures) {
      if (!/^[+-][A-Za-z0-9_.-]+$/.test(f))
        optionError('llvm', 'mattr', `entries need a + or - sign, got '${f}'`);
    }
    // Only read the machine for what the text leaves out.
    const needsHost = explicitTriple === undefined || explicitCpu === undefined || !opts.has('num-threads');
    const info = needsHost ? hostInfo(env.host) : undefined;
    const hostTripleText = info ? hostTriple(info.arch, info.platform) : '';
    const mtriple = explicitTriple ?? hostTripleText;
    let mcpu = explicitCpu;
    let features = explicitFeatures;
    if (mcpu === undefined) {
      // Detect the host CPU, unless cross-compiling to another architecture.
      if (info && tripleArch(mtriple) === tripleArch(hostTripleText)) {
        const host = cpuFromCpuinfo(info.cpuinfo, tripleArch(mtriple));
        mcpu = host.mcpu;
        features = mergeFeatures(host.features, explicitFeatures);
      } else {
        mcpu = 'generic';
      }
    }
    const numThreads = opts.has('num-threads')
      ? int('llvm', opts, 'num-threads', 1)
      : hostNumThreads(info as HostInfo);
    const t: LLVMTarget = { kind: 'llvm', keys: LLVM_DEFAULTS.keys, mtriple, mcpu, features, numThreads };
    return t;
  },
  print(t) {
    const l = t as LLVMTarget;
    const words = [`-mtriple=${l.mtriple}`, `-mcpu=${l.mcpu}`];
    if (l.features.length > 0) words.push(`-mattr=${l.features.join(',')}`);
    words.push(`-num-threads=${l.numThreads}`);
    return words;
  },
};

const CUDA_DEFAULTS = {
  arch: 'sm_80',
  maxThreadsPerBlock: 1024,
  maxSharedMemoryPerBlock: 49152,
  warpSize: 32,
} as const;
const cudaKind: TargetKindDef = {
  kind: 'cuda',
  options: ['arch', 'max-threads-per-block', 'max-shared-memory-per-block', 'warp-size'],
  parse(opts) {
    const arch = str('cuda', opts, 'arch') ?? CUDA_DEFAULTS.arch;
    if (!/^sm_\d+[a-z]?$/.test(arch)) optionError('cuda', 'arch', `must look like sm_90, got '${arch}'`);
    const t: CUDATarget = {
      kind: 'cuda',
      keys: ['cuda', 'gpu'],
      arch,
      maxThreadsPerBlock: int('cuda', opts, 'max-threads-per-block', CUDA_DEFAULTS.maxThreadsPerBlock),
      maxSharedMemoryPerBlock: int(
        'cuda',
        opts,
        'max-shared-memory-per-block',
        CUDA_DEFAULTS.maxSharedMemoryPerBlock,
      ),
      warpSize: int('cuda', opts, 'warp-size', CUDA_DEFAULTS.warpSize),
    };
    return t;
  },
  print(t) {
    const c = t as CUDATarget;
    const words = [`-arch=${c.arch}`];
    if (c.maxThreadsPerBlock !== CUDA_DEFAULTS.maxThreadsPerBlock)
      words.push(`-max-threads-per-block=${c.maxThreadsPerBlock}`);
    if (c.maxSharedMemoryPerBlock !== CUDA_DEFAULTS.maxSharedMemoryPerBlock)
      words.push(`-max-shared-memory-per-block=${c.maxSharedMemoryPerBlock}`);
    if (c.warpSize !== CUDA_DEFAULTS.warpSize) words.push(`-warp-size=${c.warpSize}`);
    return words;
  },
};

const VULKAN_DEFAULTS = { maxThreadsPerBlock: 256, supportsFloat16: false, supportsInt64: true } as const;
const vulkanKind: TargetKindDef = {
  kind: 'vulkan',
  options: ['max-threads-per-block', 'supports-float16', 'supports-int64'],
  parse(opts) {
    const t: VulkanTarget = {
      kind: 'vulkan',
      keys: ['vulkan', 'gpu'],
      maxThreadsPerBlock: int('vulkan', opts, 'max-threads-per-block', VULKAN_DEFAULTS.maxThreadsPerBlock),
      supportsFloat16: bool('vulkan', opts, 'supports-float16', VULKAN_DEFAULTS.supportsFloat16),
      supportsInt64: bool('vulkan', opts, 'supports-int64', VULKAN_DEFAULTS.supportsInt64),
    };
    return t;
  },
  print(t) {
    const v = t as VulkanTarget;
    const words: string[] = [];
    if (v.maxThreadsPerBlock !== VULKAN_DEFAULTS.maxThreadsPerBlock)
      words.push(`-max-threads-per-block=${v.maxThreadsPerBlock}`);
    if (v.supportsFloat16 !== VULKAN_DEFAULTS.supportsFloat16)
      words.push(`-supports-float16=${v.supportsFloat16}`);
    if (v.supportsInt64 !== VULKAN_DEFAULTS.supportsInt64) words.push(`-supports-int64=${v.supportsInt64}`);
    return words;
  },
};

const METAL_DEFAULTS = { maxThreadsPerBlock: 1024, warpSize: 32 } as const;
const metalKind: TargetKindDef = {
  kind: 'metal',
  options: ['max-threads-per-block', 'warp-size'],
  parse(opts) {
    const t: MetalTarget = {
      kind: 'metal',
      keys: ['metal', 'gpu'],
      maxThreadsPerBlock: int('metal', opts, 'max-threads-per-block', METAL_DEFAULTS.maxThreadsPerBlock),
      warpSize: int('metal', opts, 'warp-size', METAL_DEFAULTS.warpSize),
    };
    return t;
  },
  print(t) {
    const m = t as MetalTarget;
    const words: string[] = [];
    if (m.maxThreadsPerBlock !== METAL_DEFAULTS.maxThreadsPerBlock)
      words.push(`-max-threads-per-block=${m.maxThreadsPerBlock}`);
    if (m.warpSize !== METAL_DEFAULTS.warpSize) words.push(`-warp-size=${m.warpSize}`);
    return words;
  },
};

/** The kinds Kiln itself knows. */
export const BUILTIN_TARGET_KINDS: readonly TargetKindDef[] = Object.freeze([
  llvmKind,
  cudaKind,
  vulkanKind,
  metalKind,
]);

export function isLLVMTarget(t: Target): t is LLVMTarget {
  return t.kind === 'llvm';
}
export function isCUDATarget(t: Target): t is CUDATarget {
  return t.kind === 'cuda';
}
export function isVulkanTarget(t: Target): t is VulkanTarget {
  return t.kind === 'vulkan';
}
export function isMetalTarget(t: Target): t is MetalTarget {
  return t.kind === 'metal';
}
export function isBuiltinTarget(t: Target): t is BuiltinTarget {
  return BUILTIN_TARGET_KINDS.some((k) => k.kind === t.kind);
}
/** Does an llvm target enable `feature` (`avx2`, `neon`, ...)? */
export function hasTargetFeature(t: LLVMTarget, feature: string): boolean {
  const name = featureName(feature);
  return t.features.some((f) => f === `+${name}`);
}

// ---------------------------------------------------------------- plugin kinds

export interface TargetKindSpec<S extends z.ZodType> {
  kind: string;
  /** Defaults to `[kind]`. */
  keys?: readonly string[];
  /**
   * Options schema over the raw option strings (`true` for a bare flag); use
   * `z.coerce.number()` and friends to get typed attrs.
   */
  options?: S;
}

const ATTR_VALUE: z.ZodType<TargetAttrValue> = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.string()),
]);

/** Build a target kind for a plugin: options become the target's `attrs`. */
export function defineTargetKind<S extends z.ZodType = z.ZodObject<Record<string, never>>>(
  spec: TargetKindSpec<S>,
): TargetKindDef {
  const { kind } = spec;
  if (!/^[a-z][a-z0-9_-]*$/.test(kind))
    throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `target kind '${kind}' must be a lower-case word`);
  const keys = Object.freeze([...(spec.keys ?? [kind])]);
  const schema = strictSchema(spec.options ?? z.object({}));
  const names = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  return Object.freeze({
    kind,
    options: Object.freeze(names),
    parse(opts: ReadonlyMap<string, TargetOptionValue>): Target {
      const parsed = validateOptions(
        schema,
        Object.fromEntries(opts),
        `target '${kind}'`,
        ErrorCodes.TARGET_PARSE,
      );
      const attrs = validateOptions(
        z.record(z.string(), ATTR_VALUE),
        parsed,
        `target '${kind}'`,
        ErrorCodes.TARGET_PARSE,
      );
      const t: PluginTarget = { kind, keys, attrs: Object.freeze(attrs) };
      return t;
    },
    print(t: Target): string[] {
      const attrs = (t as PluginTarget).attrs ?? {};
      return Object.entries(attrs).map(([k, v]) =>
        v === true ? `-${k}` : `-${k}=${Array.isArray(v) ? v.join(',') : String(v)}`,
      );
    },
  });
}

// ---------------------------------------------------------------- parse / print

export interface ParseTargetOptions extends TargetParseEnv {
  /** Kinds beyond the built-in ones (a registry passes its plugins' kinds). */
  kinds?: Iterable<TargetKindDef>;
}

function kindTable(extra: Iterable<TargetKindDef> | undefined): Map<string, TargetKindDef> {
  const m = new Map<string, TargetKindDef>(BUILTIN_TARGET_KINDS.map((k) => [k.kind, k]));
  for (const k of extra ?? []) m.set(k.kind, k);
  return m;
}

function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

/** Parse a target string (see the file header). Unknown kinds and options are KilnErrors naming the word. */
export function parseTarget(text: string, options: ParseTargetOptions = {}): Target {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) throw new KilnError(ErrorCodes.TARGET_PARSE, 'empty target string');
  const [kind, ...rest] = words;
  const kinds = kindTable(options.kinds);
  const def = kinds.get(kind);
  if (!def) {
    throw new KilnError(
      ErrorCodes.UNKNOWN_TARGET,
      `unknown target kind '${kind}' (known: ${[...kinds.keys()].join(', ')})`,
      {
        details: { kind },
      },
    );
  }
  const opts = new Map<string, TargetOptionValue>();
  for (const w of rest) {
    const m = /^-([A-Za-z][A-Za-z0-9_-]*)(?:=(.*))?$/.exec(w);
    if (!m)
      throw new KilnError(ErrorCodes.TARGET_PARSE, `target '${kind}': expected -option=value, got '${w}'`, {
        details: { kind, word: w },
      });
    const [, name, value] = m;
    if (!def.options.includes(name)) {
      throw new KilnError(
        ErrorCodes.TARGET_PARSE,
        `target '${kind}': unknown option '-${name}' (accepts: ${def.options.map((o) => `-${o}`).join(', ') || 'none'})`,
        {
          details: { kind, option: name },
        },
      );
    }
    if (opts.has(name)) optionError(kind, name, 'is given twice');
    opts.set(name, value === undefined ? true : value);
  }
  return deepFreeze(def.parse(opts, options));
}

/** Print a target in the string form `parseTarget` reads back to an equal object. */
export function targetToString(target: Target, kinds?: Iterable<TargetKindDef>): string {
  const def = kindTable(kinds).get(target.kind);
  // A plugin target prints generically from its attrs even without its definition.
  const words = def ? def.print(target) : defineTargetKind({ kind: target.kind }).print(target);
  return [target.kind, ...words].join(' ');
}

/** The host CPU as an llvm target. */
export function hostTarget(host?: Partial<HostInfo>): LLVMTarget {
  const h = detectHostCPU(host);
  return deepFreeze({ kind: 'llvm', keys: LLVM_DEFAULTS.keys, ...h, features: [...h.features] });
}
