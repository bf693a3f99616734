// The `kiln` command: compile / run / inspect / ops. Every failure a user can cause ends
// as one line `error[CODE]: message` and exit status 1; nothing is half-written.
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { isKilnError, KilnError } from '@kiln/ir-core';
import type { MemoryPlanReport } from '@kiln/relax';
import { listOps } from '@kiln/relax';
import type { Executable, Value } from '@kiln/runtime';
import { createRuntime, readArtifactFile, Tensor, writeArtifactFile } from '@kiln/runtime';
import type { CompileOptions } from './compile.js';
import { compileModule } from './compile.js';
import { loadModel } from './models.js';
import { encodeNpy, readNpy } from './npy.js';
import { KILN_VERSION } from './version.js';

export interface CLIIO {
  out(line: string): void;
  err(line: string): void;
  isTTY: boolean;
}

const defaultIO: CLIIO = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  isTTY: Boolean(process.stderr.isTTY),
};

const USAGE = `kiln ${KILN_VERSION} — a machine-learning compiler

usage:
  kiln compile <model> [--target <target>] [-o <file.kiln>] [--opt-level 0-3]
                       [--dump-ir <dir>] [--dump llvm,llvm-opt,asm --dump-dir <dir>]
  kiln run <file.kiln> --input <name>=<file.npy> ... [--output-dir <dir>]
                       [--function main] [--bench <N>] [--threads <N>] [--profile]
  kiln inspect <file.kiln>
  kiln ops

models: .onnx (ONNX), .mjs / .js model scripts (default export returning a Relax IRModule)
targets: llvm [-mtriple=…] [-mcpu=…] [-mattr=…] [-num-threads=N] (default: the host CPU)`;

function usageError(msg: string): never {
  throw new KilnError('USAGE', `${msg}\n\n${USAGE}`);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** `96.0 KiB → 32.0 KiB of intermediates; 9 symbolic-size tensors in 2 storages` */
function planText(r: MemoryPlanReport): string {
  const parts: string[] = [];
  if (r.bytesBefore > 0)
    parts.push(`${formatBytes(r.bytesBefore)} → ${formatBytes(r.bytesAfter)} of static-size intermediates`);
  if (r.symbolicBefore > 0)
    parts.push(`${r.symbolicBefore} symbolic-size intermediates in ${r.symbolicAfter} storages`);
  return parts.join('; ') || 'no intermediates to plan';
}

async function cmdCompile(args: string[], io: CLIIO): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      target: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'opt-level': { type: 'string' },
      'dump-ir': { type: 'string' },
      dump: { type: 'string' },
      'dump-dir': { type: 'string' },
    },
  });
  if (positionals.length !== 1) usageError('compile takes exactly one model file');
  const model = positionals[0];
  const optLevel = values['opt-level'] === undefined ? 3 : Number(values['opt-level']);
  if (![0, 1, 2, 3].includes(optLevel))
    usageError(`--opt-level must be 0, 1, 2 or 3 (got '${values['opt-level']}')`);
  const dump = values.dump
    ? (values.dump.split(',').map((s) => s.trim()) as CompileOptions['dump'])
    : undefined;
  for (const d of dump ?? [])
    if (!['llvm', 'llvm-opt', 'asm'].includes(d))
      usageError(`unknown --dump kind '${d}' (llvm, llvm-opt, asm)`);
  const out = values.output ?? `${basename(model, extname(model))}.kiln`;
  const started = performance.now();
  const progress = (step: string, detail?: string) => {
    if (io.isTTY)
      io.err(
        `  [${((performance.now() - started) / 1000).toFixed(1)}s] ${step}${detail ? `: ${detail}` : ''}`,
      );
  };
  progress('load', model);
  const mod = await loadModel(model);
  const res = compileModule(mod, {
    target: values.target,
    optLevel: optLevel as 0 | 1 | 2 | 3,
    dumpIRDir: values['dump-ir'],
    dump,
    onProgress: progress,
  });
  if (dump) {
    const dir = values['dump-dir'] ?? '.';
    mkdirSync(dir, { recursive: true });
    const ext = { llvm: 'll', 'llvm-opt': 'opt.ll', asm: 's' } as const;
    for (const d of dump) {
      const text = res.dumps[d];
      if (text) writeFileSync(join(dir, `kernels.${ext[d]}`), text);
    }
  }
  writeArtifactFile(out, res.artifact);
  const size = statSync(out).size;
  io.out(
    `compiled ${model} → ${out} (${formatBytes(size)}, target ${res.artifact.target.split(' -mattr')[0]})`,
  );
  io.out(
    `  ${res.stats.kernels} kernels, ${res.artifact.constants.length} constants; ${res.stats.seconds.total.toFixed(2)} s`,
  );
  for (const [fn, r] of Object.entries(res.stats.memoryPlan))
    io.out(`  memory plan of ${fn}: ${planText(r)}`);
}

function parseInputs(specs: readonly string[], exe: Executable, fnName: string): Value[] {
  const fn = exe.functions().find((f) => f.name === fnName);
  if (!fn)
    throw new KilnError(
      'UNKNOWN_FUNCTION',
      `the artifact has no function '${fnName}' (has: ${exe
        .functions()
        .map((f) => f.name)
        .join(', ')})`,
    );
  const byName = new Map<string, string>();
  specs.forEach((s, i) => {
    const eq = s.indexOf('=');
    if (eq < 0) {
      if (fn.params.length === specs.length) byName.set(fn.params[i].name, s);
      else usageError(`--input '${s}' needs the form <name>=<file.npy>`);
    } else byName.set(s.slice(0, eq), s.slice(eq + 1));
  });
  for (const k of byName.keys()) {
    if (!fn.params.some((p) => p.name === k)) {
      throw new KilnError(
        'UNKNOWN_INPUT',
        `'${fnName}' has no input named '${k}' (inputs: ${fn.params.map((p) => p.name).join(', ')})`,
      );
    }
  }
  return fn.params.map((p) => {
    const file = byName.get(p.name);
    if (!file)
      throw new KilnError(
        'MISSING_INPUT',
        `input '${p.name}' of '${fnName}' is not given (--input ${p.name}=<file.npy>)`,
      );
    const a = readNpy(file);
    return Tensor.fromTypedArray(a.data, a.shape, a.dtype);
  });
}

function outputs(v: Value, prefix: string): Array<[string, Tensor]> {
  if (v instanceof Tensor) return [[prefix, v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => outputs(x as Value, `${prefix}_${i}`));
  return [];
}

async function cmdRun(args: string[], io: CLIIO): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      input: { type: 'string', multiple: true, short: 'i' },
      'output-dir': { type: 'string' },
      function: { type: 'string' },
      bench: { type: 'string' },
      threads: { type: 'string' },
      profile: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) usageError('run takes exactly one .kiln file');
  if (values.threads !== undefined) {
    const n = Number(values.threads);
    if (!Number.isInteger(n) || n < 1)
      usageError(`--threads must be a positive integer (got '${values.threads}')`);
    process.env.KILN_NUM_THREADS = String(n);
  }
  const artifact = readArtifactFile(positionals[0]);
  const exe = createRuntime().load(artifact);
  const fnName = values.function ?? 'main';
  const inputs = parseInputs(values.input ?? [], exe, fnName);
  const f = exe.getFunction(fnName);
  const result = f(...inputs);
  const named = (artifact.metadata?.outputNames as Record<string, string[]> | undefined)?.[fnName];
  const outs = outputs(result, 'output').map(([n, t], i): [string, Tensor] => [named?.[i] ?? n, t]);
  if (values['output-dir']) {
    mkdirSync(values['output-dir'], { recursive: true });
    for (const [name, t] of outs) {
      const c = t.contiguous();
      const bytes = new Uint8Array(
        c.toTypedArray().buffer,
        c.toTypedArray().byteOffset,
        c.toTypedArray().byteLength,
      );
      writeFileSync(join(values['output-dir'], `${name}.npy`), encodeNpy(c.dtype, c.shape, bytes));
    }
  }
  for (const [name, t] of outs)
    io.out(
      `${name}: ${t.dtype}[${t.shape.join(', ')}]${values['output-dir'] ? ` → ${join(values['output-dir'], `${name}.npy`)}` : ''}`,
    );
  if (values.bench !== undefined) {
    const n = Number(values.bench);
    if (!Number.isInteger(n) || n < 1)
      usageError(`--bench must be a positive integer (got '${values.bench}')`);
    for (let i = 0; i < Math.min(5, n); i++) f(...inputs);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      f(...inputs);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    io.out(
      `latency: median ${median.toFixed(3)} ms over ${n} runs (min ${times[0].toFixed(3)} ms, max ${times[times.length - 1].toFixed(3)} ms)`,
    );
  }
  if (values.profile) {
    // After the warm-up above (or one run): time every kernel over the runs asked for.
    const n = values.bench !== undefined ? Number(values.bench) : 1;
    exe.setProfiling(true);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f(...inputs);
    const wall = (performance.now() - t0) / n;
    const prof = exe.kernelProfile();
    exe.setProfiling(false);
    const inKernels = prof.reduce((a, e) => a + e.ms, 0) / n;
    io.out(
      `profile over ${n} run(s): ${wall.toFixed(3)} ms per run, ${inKernels.toFixed(3)} ms in ${prof.length} kernels`,
    );
    io.out('    ms/run       %  calls/run  kernel');
    for (const e of prof) {
      const ms = e.ms / n;
      io.out(
        `${ms.toFixed(3).padStart(10)}  ${((100 * ms) / wall).toFixed(1).padStart(6)}  ${String(e.calls / n).padStart(9)}  ${e.kernel}`,
      );
    }
  }
  exe.dispose?.();
}

function cmdInspect(args: string[], io: CLIIO): void {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) usageError('inspect takes exactly one .kiln file');
  const file = positionals[0];
  const art = readArtifactFile(file);
  io.out(`${file}: ${formatBytes(statSync(file).size)}`);
  io.out(`  kiln ${art.kilnVersion}, target: ${art.target}`);
  io.out(`  devices: ${art.devices.join(', ')}`);
  const constBytes = art.constants.reduce((s, c) => s + c.data.byteLength, 0);
  io.out(`  constants: ${art.constants.length} (${formatBytes(constBytes)})`);
  io.out('  functions:');
  for (const f of art.functions) {
    const sig = (s: (typeof f.params)[number]['sig']): string =>
      s.kind === 'tensor'
        ? `Tensor[${(s.shape ?? ['?']).join(', ')}] ${s.dtype ?? '?'}`
        : s.kind === 'tuple'
          ? `(${s.fields.map((x) => sig(x)).join(', ')})`
          : s.kind;
    const kernelCalls = f.code.filter((i) => i.op === 'CallKernel').length;
    io.out(`    ${f.name}(${f.params.map((p) => `${p.name}: ${sig(p.sig)}`).join(', ')}) -> ${sig(f.ret)}`);
    io.out(
      `      ${f.code.length} instructions, ${kernelCalls} kernel launches, ${f.numRegisters} registers, ${f.numStorageSlots} storage slots`,
    );
  }
  io.out('  kernel modules:');
  for (const m of art.kernelModules) {
    const names = Object.keys(m.symbols);
    io.out(`    ${m.name} (${m.kind}, ${formatBytes(m.data?.byteLength ?? 0)}): ${names.length} kernels`);
    for (const n of names) io.out(`      ${n}(${m.symbols[n].args.join(', ')})`);
  }
  const plan = art.metadata?.memoryPlan as Record<string, MemoryPlanReport> | undefined;
  for (const [fn, r] of Object.entries(plan ?? {})) io.out(`  memory plan of ${fn}: ${planText(r)}`);
}

/** Run the CLI with `argv` (without node and script); returns the exit status. */
export async function runCLI(argv: readonly string[], io: CLIIO = defaultIO): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'compile':
        await cmdCompile(rest, io);
        return 0;
      case 'run':
        await cmdRun(rest, io);
        return 0;
      case 'inspect':
        cmdInspect(rest, io);
        return 0;
      case 'ops':
        for (const o of listOps()) io.out(o);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return cmd === undefined ? 1 : 0;
      case '--version':
        io.out(KILN_VERSION);
        return 0;
      default:
        usageError(`unknown command '${cmd}'`);
    }
  } catch (e) {
    if (isKilnError(e)) {
      io.err(e.format());
      return 1;
    }
    const code = (e as { code?: unknown }).code;
    if (e instanceof Error && typeof code === 'string' && e.name === 'KilnError') {
      io.err(`error[${code}]: ${e.message}`);
      return 1;
    }
    if (e instanceof TypeError && (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`error[USAGE]: ${e.message}\n\n${USAGE}`);
      return 1;
    }
    throw e;
  }
}
