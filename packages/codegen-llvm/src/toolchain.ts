// From textual LLVM IR to a shared library: LLVM's parser and verifier (through
// llvm-bindings) → bitcode → `opt -O3` → `llc -filetype=obj` → `cc -shared` with the C
// runtime. llvm-bindings has no object emission, so LLVM 14's command-line tools do that.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KilnError } from '@kiln/ir-core';
import { CPU_RUNTIME_C } from './cpu_runtime.js';

export interface Toolchain {
  opt: string;
  llc: string;
  cc: string;
  /** llvm-split, when installed: large modules are optimized and compiled in parallel parts. */
  split?: string;
}

const TOOLCHAIN_MISSING = 'TOOLCHAIN_MISSING';
const CODEGEN = 'CODEGEN_ERROR';

function which(cmd: string): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

function findTool(names: string[], what: string): string {
  const binDir = process.env.KILN_LLVM_BIN;
  const candidates = [
    ...(binDir ? names.map((n) => join(binDir, n)) : []),
    ...names,
    ...names.map((n) => `/usr/lib/llvm-14/bin/${n.replace(/-14$/, '')}`),
  ];
  for (const c of candidates) {
    const p = which(c);
    if (p) return p;
  }
  throw new KilnError(
    TOOLCHAIN_MISSING,
    `codegen-llvm needs ${what} (looked for ${names.join(', ')}); install Debian's llvm-14 (apt-get install llvm-14) or set KILN_LLVM_BIN`,
  );
}

let cached: Toolchain | undefined;
export function findToolchain(): Toolchain {
  cached ??= {
    opt: findTool(['opt-14', 'opt'], "LLVM's opt"),
    llc: findTool(['llc-14', 'llc'], "LLVM's llc"),
    cc: findTool([process.env.CC ?? 'cc', 'gcc', 'clang'], 'a C compiler (cc)'),
    split: optionalTool(['llvm-split-14', 'llvm-split']),
  };
  return cached;
}

/** The architecture of a target triple, in triple spelling (`x86_64`, `aarch64`). */
function tripleArch(triple: string): string {
  const a = triple.split('-')[0];
  return a === 'arm64' ? 'aarch64' : a === 'amd64' ? 'x86_64' : a;
}

const HOST_ARCH: Readonly<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386' };

/**
 * The C compiler that links a library for `triple`: the host's for the host
 * architecture, else a cross compiler (KILN_CROSS_CC, or Debian's `<arch>-linux-gnu-gcc`).
 * Cross-compiled libraries cannot be loaded here; they are artifacts for another machine.
 */
export function compilerFor(triple: string): string {
  const arch = tripleArch(triple);
  const tc = findToolchain();
  if (arch === (HOST_ARCH[process.arch] ?? process.arch)) return tc.cc;
  const env = process.env.KILN_CROSS_CC;
  const gnu = `${arch}-linux-gnu-gcc`;
  const found = env ? which(env) : which(gnu);
  if (found) return found;
  throw new KilnError(
    TOOLCHAIN_MISSING,
    `codegen-llvm: linking kernels for ${triple} on this ${process.arch} machine needs a cross C compiler ` +
      `(looked for ${env ?? gnu}; on Debian: apt-get install gcc-${arch.replace(/_/g, '-')}-linux-gnu, or set KILN_CROSS_CC)`,
  );
}

function optionalTool(names: string[]): string | undefined {
  try {
    return findTool(names, names[0]);
  } catch {
    return undefined;
  }
}

/**
 * How many parts to optimize and compile a module of `bytes` bytes of IR in: one per
 * core, but no part smaller than about 256 KiB of IR (below that, process start-up and
 * lost cross-kernel inlining outweigh the gain). KILN_CODEGEN_JOBS overrides the count.
 */
function partsFor(bytes: number): number {
  const env = Number(process.env.KILN_CODEGEN_JOBS);
  const cores = Number.isInteger(env) && env > 0 ? env : Math.min(availableParallelism(), 8);
  return Math.max(1, Math.min(cores, Math.floor(bytes / (256 << 10))));
}

const shellQuote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;

interface LLVMBindings {
  LLVMContext: new () => object;
  SMDiagnostic: new () => { getMessage(): string; getLineNo(): number };
  parseIRFile(path: string, diag: object, ctx: object): { print?(): string } | null;
  verifyModule(mod: object): boolean;
  WriteBitcodeToFile(mod: object, path: string): void;
}

let bindings: LLVMBindings | null | undefined;
function loadBindings(): LLVMBindings | null {
  if (bindings !== undefined) return bindings;
  try {
    const require = createRequire(import.meta.url);
    bindings = require('llvm-bindings') as LLVMBindings;
  } catch {
    bindings = null;
  }
  return bindings;
}

function run(cmd: string, args: string[], what: string): string {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 256 << 20,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new KilnError(
      CODEGEN,
      `codegen-llvm: ${what} failed: ${(err.stderr ?? err.message).trim().split('\n').slice(0, 12).join('\n')}`,
    );
  }
}

function cacheDir(): string {
  const dir = join(process.env.KILN_CACHE_DIR ?? join(tmpdir(), 'kiln-cache'), 'cpu-runtime');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The C runtime object, compiled once per (compiler, source) and cached. */
function runtimeObject(cc: string): string {
  const key = createHash('sha256').update(CPU_RUNTIME_C).update(cc).digest('hex').slice(0, 16);
  const obj = join(cacheDir(), `kiln_rt_${key}.o`);
  if (existsSync(obj)) return obj;
  const dir = mkdtempSync(join(tmpdir(), 'kiln-rt-'));
  try {
    const src = join(dir, 'kiln_rt.c');
    writeFileSync(src, CPU_RUNTIME_C);
    const tmpObj = join(dir, 'kiln_rt.o');
    run(cc, ['-O2', '-fPIC', '-std=gnu11', '-pthread', '-c', src, '-o', tmpObj], 'compiling the C runtime');
    renameSync(tmpObj, obj);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return obj;
}

export interface CompileOptions {
  mtriple: string;
  mcpu?: string;
  features?: readonly string[];
  optLevel?: 0 | 1 | 2 | 3;
  /** Also produce assembly text (for `--dump asm`). */
  emitAsm?: boolean;
  /** Also return the optimized LLVM IR as text (for `--dump llvm-opt`). */
  wantOptimizedIR?: boolean;
  /** Optimize and compile in this many concurrent parts (default: by module size and cores). */
  parts?: number;
  /** Name used in error messages (the module / model). */
  name?: string;
}

export interface CompiledLibrary {
  /** The shared library's bytes. */
  library: Uint8Array;
  /** The optimized LLVM IR (text; empty unless `wantOptimizedIR`). */
  optimizedIR: string;
  asm?: string;
  /** How many parts the module was optimized and compiled in. */
  parts: number;
}

/** Verify, optimize and link textual LLVM IR into a shared library. */
export function compileToSharedLibrary(llvmIR: string, options: CompileOptions): CompiledLibrary {
  const tc = findToolchain();
  const cc = compilerFor(options.mtriple);
  const dir = mkdtempSync(join(tmpdir(), 'kiln-llvm-'));
  try {
    const ll = join(dir, 'kernels.ll');
    writeFileSync(ll, llvmIR);
    const bc = join(dir, 'kernels.bc');
    const llvm = loadBindings();
    let input = ll;
    if (llvm) {
      // Parse and verify with LLVM itself: errors name the line of the generated IR.
      const ctx = new llvm.LLVMContext();
      const diag = new llvm.SMDiagnostic();
      const mod = llvm.parseIRFile(ll, diag, ctx);
      if (!mod) {
        const line = llvmIR.split('\n')[diag.getLineNo() - 1] ?? '';
        throw new KilnError(
          CODEGEN,
          `codegen-llvm: generated IR does not parse (${options.name ?? 'module'}): ${diag.getMessage()} at line ${diag.getLineNo()}: ${line.trim()}`,
        );
      }
      if (llvm.verifyModule(mod))
        throw new KilnError(
          CODEGEN,
          `codegen-llvm: generated IR of ${options.name ?? 'module'} fails LLVM verification`,
        );
      llvm.WriteBitcodeToFile(mod, bc);
      input = bc;
    }
    const cpuArgs = [`-mtriple=${options.mtriple}`];
    if (options.mcpu) cpuArgs.push(`-mcpu=${options.mcpu}`);
    if (options.features && options.features.length > 0) cpuArgs.push(`-mattr=${options.features.join(',')}`);
    const level = options.optLevel ?? 3;
    // Large modules are split (kernels stay whole, internal helpers stay with their
    // users) and the parts are optimized and compiled concurrently by one shell.
    const n = input === bc && tc.split ? (options.parts ?? partsFor(llvmIR.length)) : 1;
    let parts = [input];
    if (n > 1) {
      const prefix = join(dir, 'part');
      run(tc.split!, [`-j${n}`, '-preserve-locals', '-o', prefix, input], 'llvm-split');
      parts = Array.from({ length: n }, (_, i) => `${prefix}${i}`).filter((p) => existsSync(p));
    }
    const optArgs = (src: string, out: string) => [`-O${level}`, ...cpuArgs, src, '-o', out];
    const llcArgs = (src: string, out: string, type = 'obj') => [
      `-O${level}`,
      ...cpuArgs,
      `-filetype=${type}`,
      '-relocation-model=pic',
      src,
      '-o',
      out,
    ];
    const objs = parts.map((p) => `${p}.o`);
    if (parts.length === 1) {
      run(tc.opt, optArgs(parts[0], `${parts[0]}.opt.bc`), 'opt');
      run(tc.llc, llcArgs(`${parts[0]}.opt.bc`, objs[0]), 'llc');
    } else {
      const job = (p: string) =>
        `( ${[tc.opt, ...optArgs(p, `${p}.opt.bc`)].map(shellQuote).join(' ')} && ` +
        `${[tc.llc, ...llcArgs(`${p}.opt.bc`, `${p}.o`)].map(shellQuote).join(' ')} ) 2> ${shellQuote(`${p}.err`)} &`;
      const script = [
        'pids=""',
        ...parts.map((p) => `${job(p)} pids="$pids $!"`),
        'rc=0',
        'for p in $pids; do wait "$p" || rc=1; done',
        `[ "$rc" = 0 ] || cat ${parts.map((p) => shellQuote(`${p}.err`)).join(' ')} >&2`,
        'exit "$rc"',
      ].join('\n');
      run('sh', ['-c', script], 'opt/llc');
    }
    const optimizedIR = options.wantOptimizedIR
      ? parts.map((p) => run(tc.opt, ['-S', `${p}.opt.bc`, '-o', '-'], 'opt -S')).join('\n')
      : '';
    let asm: string | undefined;
    if (options.emitAsm)
      asm = parts.map((p) => run(tc.llc, llcArgs(`${p}.opt.bc`, '-', 'asm'), 'llc (asm)')).join('\n');
    const so = join(dir, 'kernels.so');
    run(
      cc,
      ['-shared', '-o', so, ...objs, runtimeObject(cc), '-lm', '-lpthread'],
      'linking the kernel library',
    );
    return { library: new Uint8Array(readFileSync(so)), optimizedIR, asm, parts: parts.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
