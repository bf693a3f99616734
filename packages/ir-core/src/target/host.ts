// Host detection for `llvm` targets: the LLVM triple from the OS and architecture,
// the CPU name and feature list from /proc/cpuinfo, the thread count from
// KILN_NUM_THREADS or the core count. Every input is injectable so tests can feed
// sample cpuinfo texts instead of reading the machine they run on.
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { ErrorCodes, KilnError } from '../errors.js';

export interface HostInfo {
  /** Contents of /proc/cpuinfo ('' when unavailable). */
  cpuinfo: string;
  /** `os.arch()`: `x64`, `arm64`, ... */
  arch: string;
  /** `os.platform()`: `linux`, `darwin`, `win32`, ... */
  platform: string;
  /** Logical cores available to the process. */
  cpuCount: number;
  env: Readonly<Record<string, string | undefined>>;
}

export interface HostCPU {
  readonly mtriple: string;
  readonly mcpu: string;
  readonly features: readonly string[];
  readonly numThreads: number;
}

/** Fill in whatever `partial` leaves out from the running machine. */
export function hostInfo(partial: Partial<HostInfo> = {}): HostInfo {
  const platform = partial.platform ?? os.platform();
  let cpuinfo = partial.cpuinfo;
  if (cpuinfo === undefined) {
    try {
      cpuinfo = platform === 'linux' ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    } catch {
      cpuinfo = '';
    }
  }
  return {
    cpuinfo,
    arch: partial.arch ?? os.arch(),
    platform,
    cpuCount:
      partial.cpuCount ??
      (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length),
    env: partial.env ?? process.env,
  };
}

export function hostTriple(arch: string, platform: string): string {
  const cpu =
    (
      {
        x64: 'x86_64',
        arm64: 'aarch64',
        ia32: 'i686',
        riscv64: 'riscv64',
        ppc64: 'powerpc64le',
        s390x: 's390x',
        loong64: 'loongarch64',
      } as Record<string, string>
    )[arch] ?? arch;
  if (platform === 'darwin') return `${cpu === 'aarch64' ? 'arm64' : cpu}-apple-darwin`;
  if (platform === 'win32') return `${cpu}-pc-windows-msvc`;
  return `${cpu}-linux-gnu`;
}

/** The architecture family of a triple: `x86`, `aarch64`, or the triple's first word. */
export function tripleArch(triple: string): string {
  const a = triple.split('-')[0];
  if (a === 'x86_64' || a === 'i686' || a === 'i386') return 'x86';
  if (a === 'aarch64' || a === 'arm64') return 'aarch64';
  return a;
}

// /proc/cpuinfo flag → LLVM feature, in the order features are listed.
const X86_FEATURES: ReadonlyArray<readonly [string, string]> = [
  ['sse', 'sse'],
  ['sse2', 'sse2'],
  ['pni', 'sse3'],
  ['ssse3', 'ssse3'],
  ['sse4_1', 'sse4.1'],
  ['sse4_2', 'sse4.2'],
  ['popcnt', 'popcnt'],
  ['cx16', 'cx16'],
  ['movbe', 'movbe'],
  ['abm', 'lzcnt'],
  ['bmi1', 'bmi'],
  ['bmi2', 'bmi2'],
  ['f16c', 'f16c'],
  ['fma', 'fma'],
  ['xsave', 'xsave'],
  ['avx', 'avx'],
  ['avx2', 'avx2'],
  ['avx512f', 'avx512f'],
  ['avx512cd', 'avx512cd'],
  ['avx512bw', 'avx512bw'],
  ['avx512dq', 'avx512dq'],
  ['avx512vl', 'avx512vl'],
  ['avx512_vnni', 'avx512vnni'],
  ['avx512_bf16', 'avx512bf16'],
  ['avx512vbmi', 'avx512vbmi'],
  ['avx512_fp16', 'avx512fp16'],
  ['avx_vnni', 'avxvnni'],
  ['amx_tile', 'amx-tile'],
  ['amx_int8', 'amx-int8'],
  ['amx_bf16', 'amx-bf16'],
];
const AARCH64_FEATURES: ReadonlyArray<readonly [string, string]> = [
  ['fp', 'fp-armv8'],
  ['asimd', 'neon'],
  ['aes', 'aes'],
  ['sha2', 'sha2'],
  ['crc32', 'crc'],
  ['atomics', 'lse'],
  ['asimdrdm', 'rdm'],
  ['fphp', 'fullfp16'],
  ['asimddp', 'dotprod'],
  ['i8mm', 'i8mm'],
  ['bf16', 'bf16'],
  ['sve', 'sve'],
  ['sve2', 'sve2'],
  ['sme', 'sme'],
];

// (implementer, part) → LLVM CPU name, for common server and phone cores.
const AARCH64_PARTS: Readonly<Record<string, string>> = {
  '0x41:0xd03': 'cortex-a53',
  '0x41:0xd08': 'cortex-a72',
  '0x41:0xd0b': 'cortex-a76',
  '0x41:0xd0c': 'neoverse-n1',
  '0x41:0xd40': 'neoverse-v1',
  '0x41:0xd49': 'neoverse-n2',
  '0x41:0xd4f': 'neoverse-v2',
  '0x41:0xd8e': 'neoverse-n3',
  '0x41:0xd84': 'neoverse-v3',
  '0x61:0x022': 'apple-m1',
  '0x61:0x023': 'apple-m1',
  '0xc0:0xac3': 'ampere1',
};

// Intel family 6 models → LLVM CPU name.
const INTEL_MODELS: Readonly<Record<number, string>> = {
  60: 'haswell',
  63: 'haswell',
  69: 'haswell',
  70: 'haswell',
  61: 'broadwell',
  79: 'broadwell',
  86: 'broadwell',
  78: 'skylake',
  94: 'skylake',
  142: 'skylake',
  158: 'skylake',
  85: 'skylake-avx512',
  106: 'icelake-server',
  108: 'icelake-server',
  125: 'icelake-client',
  126: 'icelake-client',
  140: 'tigerlake',
  141: 'tigerlake',
  151: 'alderlake',
  154: 'alderlake',
  183: 'raptorlake',
  186: 'raptorlake',
  191: 'raptorlake',
  167: 'rocketlake',
  143: 'sapphirerapids',
  207: 'emeraldrapids',
  173: 'graniterapids',
  174: 'graniterapids',
};

/** The fields of the first processor block of a cpuinfo text. */
function firstProcessor(cpuinfo: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of cpuinfo.split('\n')) {
    if (line.trim() === '') {
      if (out.size > 0) break;
      continue;
    }
    const i = line.indexOf(':');
    if (i < 0) continue;
    const key = line.slice(0, i).trim().toLowerCase();
    if (!out.has(key)) out.set(key, line.slice(i + 1).trim());
  }
  return out;
}

function x86Level(f: ReadonlySet<string>): string {
  const all = (xs: string[]) => xs.every((x) => f.has(x));
  if (all(['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl', 'avx2', 'fma', 'bmi2']))
    return 'x86-64-v4';
  if (all(['avx2', 'avx', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe'])) return 'x86-64-v3';
  if (all(['sse4_2', 'sse4_1', 'ssse3', 'popcnt', 'cx16'])) return 'x86-64-v2';
  return 'x86-64';
}

function x86CPU(cpu: Map<string, string>, flags: ReadonlySet<string>): string {
  const vendor = cpu.get('vendor_id') ?? '';
  const family = Number(cpu.get('cpu family'));
  const model = Number(cpu.get('model'));
  if (vendor === 'AuthenticAMD' && Number.isFinite(family) && Number.isFinite(model)) {
    if (family === 23) return model >= 0x30 ? 'znver2' : 'znver1';
    if (family === 25)
      return (model >= 0x10 && model <= 0x1f) ||
        (model >= 0x60 && model <= 0x7f) ||
        (model >= 0xa0 && model <= 0xaf)
        ? 'znver4'
        : 'znver3';
    if (family === 26) return 'znver5';
  }
  if (vendor === 'GenuineIntel' && family === 6 && INTEL_MODELS[model] !== undefined) {
    const name = INTEL_MODELS[model];
    // Model 0x55 covers Skylake-SP and Cascade Lake; VNNI tells them apart.
    if (name === 'skylake-avx512' && flags.has('avx512_vnni')) return 'cascadelake';
    return name;
  }
  return x86Level(flags);
}

/** CPU name and LLVM features from a cpuinfo text, for the given architecture family. */
export function cpuFromCpuinfo(
  cpuinfo: string,
  arch: 'x86' | 'aarch64' | string,
): { mcpu: string; features: string[] } {
  const cpu = firstProcessor(cpuinfo);
  if (arch === 'x86') {
    const flags = new Set((cpu.get('flags') ?? '').split(/\s+/).filter(Boolean));
    if (flags.size === 0) return { mcpu: 'x86-64', features: [] };
    return {
      mcpu: x86CPU(cpu, flags),
      features: X86_FEATURES.filter(([f]) => flags.has(f)).map(([, l]) => `+${l}`),
    };
  }
  if (arch === 'aarch64') {
    const flags = new Set((cpu.get('features') ?? '').split(/\s+/).filter(Boolean));
    const key = `${(cpu.get('cpu implementer') ?? '').toLowerCase()}:${(cpu.get('cpu part') ?? '').toLowerCase()}`;
    return {
      mcpu: AARCH64_PARTS[key] ?? 'generic',
      features: AARCH64_FEATURES.filter(([f]) => flags.has(f)).map(([, l]) => `+${l}`),
    };
  }
  return { mcpu: 'generic', features: [] };
}

/** Threads to use: KILN_NUM_THREADS when set, else the core count. */
export function hostNumThreads(info: HostInfo): number {
  const v = info.env.KILN_NUM_THREADS;
  if (v !== undefined && v !== '') {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `KILN_NUM_THREADS must be a positive integer, got '${v}'`,
      );
    }
    return n;
  }
  return Math.max(1, info.cpuCount);
}

/** Describe the host CPU as an LLVM target would. */
export function detectHostCPU(partial: Partial<HostInfo> = {}): HostCPU {
  const info = hostInfo(partial);
  const mtriple = hostTriple(info.arch, info.platform);
  const { mcpu, features } = cpuFromCpuinfo(info.cpuinfo, tripleArch(mtriple));
  return Object.freeze({
    mtriple,
    mcpu,
    features: Object.freeze(features),
    numThreads: hostNumThreads(info),
  });
}
