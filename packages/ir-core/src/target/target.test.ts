import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCodes, KilnError } from '../errors.js';
import { cpuFromCpuinfo, detectHostCPU, hostTriple } from './host.js';
import {
  defineTargetKind,
  hasTargetFeature,
  hostTarget,
  isCUDATarget,
  isLLVMTarget,
  parseTarget,
  targetToString,
} from './target.js';
import type { LLVMTarget, PluginTarget } from './types.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '__fixtures__', name), 'utf8');
const EPYC = fixture('cpuinfo-epyc-znver3.txt');
const SPR = fixture('cpuinfo-xeon-spr.txt');
const GRAVITON = fixture('cpuinfo-graviton2.txt');
const VM = fixture('cpuinfo-vm-avx2.txt');
const linuxX64 = (cpuinfo: string) => ({ cpuinfo, arch: 'x64', platform: 'linux', cpuCount: 8, env: {} });

function errorOf(fn: () => unknown): KilnError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KilnError) return e;
    throw e;
  }
  throw new Error('expected a KilnError');
}

describe('parseTarget', () => {
  it('parses a fully specified llvm target', () => {
    const t = parseTarget('llvm -mtriple=x86_64-linux-gnu -mcpu=znver3 -mattr=+avx2,+fma -num-threads=2');
    expect(t).toEqual({
      kind: 'llvm',
      keys: ['cpu'],
      mtriple: 'x86_64-linux-gnu',
      mcpu: 'znver3',
      features: ['+avx2', '+fma'],
      numThreads: 2,
    });
    expect(isLLVMTarget(t) && hasTargetFeature(t, 'avx2')).toBe(true);
    expect(isLLVMTarget(t) && hasTargetFeature(t, 'avx512f')).toBe(false);
    expect(Object.isFrozen(t)).toBe(true);
  });

  it('parses the GPU kinds with defaults', () => {
    const c = parseTarget('cuda -arch=sm_90');
    expect(isCUDATarget(c) && c.arch).toBe('sm_90');
    expect(c).toMatchObject({ keys: ['cuda', 'gpu'], maxThreadsPerBlock: 1024, warpSize: 32 });
    expect(parseTarget('vulkan')).toMatchObject({
      kind: 'vulkan',
      keys: ['vulkan', 'gpu'],
      maxThreadsPerBlock: 256,
      supportsFloat16: false,
    });
    expect(parseTarget('vulkan -supports-float16')).toMatchObject({ supportsFloat16: true });
    expect(parseTarget('metal')).toMatchObject({ kind: 'metal', keys: ['metal', 'gpu'] });
    expect(parseTarget('  cuda   -arch=sm_80  -max-threads-per-block=512 ')).toMatchObject({
      arch: 'sm_80',
      maxThreadsPerBlock: 512,
    });
  });

  it('round-trips through targetToString', () => {
    const texts = [
      'llvm -mtriple=x86_64-linux-gnu -mcpu=znver3 -mattr=+avx2,+fma -num-threads=2',
      'llvm -mtriple=aarch64-linux-gnu -mcpu=neoverse-n1 -num-threads=4',
      'llvm -mtriple=aarch64-linux-gnu -mcpu=generic -mattr=+neon,-sve -num-threads=1',
      'cuda -arch=sm_90',
      'cuda -arch=sm_86 -max-threads-per-block=512 -max-shared-memory-per-block=101376 -warp-size=32',
      'vulkan',
      'vulkan -max-threads-per-block=1024 -supports-float16=true -supports-int64=false',
      'metal',
      'metal -warp-size=64',
    ];
    for (const text of texts) {
      const t = parseTarget(text);
      const printed = targetToString(t);
      expect(parseTarget(printed)).toEqual(t);
      expect(targetToString(parseTarget(printed))).toBe(printed);
      expect(JSON.parse(JSON.stringify(t))).toEqual(t);
    }
    expect(targetToString(parseTarget('cuda -arch=sm_86 -warp-size=32'))).toBe('cuda -arch=sm_86');
  });

  it('round-trips a host-detected target without consulting the host again', () => {
    const t = parseTarget('llvm', { host: linuxX64(EPYC) });
    const printed = targetToString(t);
    expect(printed).toMatch(
      /^llvm -mtriple=x86_64-linux-gnu -mcpu=znver3 -mattr=\+sse,.*\+avx2 -num-threads=8$/,
    );
    expect(
      parseTarget(printed, { host: { cpuinfo: '', arch: 'arm64', platform: 'linux', cpuCount: 1, env: {} } }),
    ).toEqual(t);
  });

  it('names unknown kinds and options', () => {
    const k = errorOf(() => parseTarget('opencl -device=mali'));
    expect(k.code).toBe(ErrorCodes.UNKNOWN_TARGET);
    expect(k.message).toContain("'opencl'");
    const o = errorOf(() => parseTarget('cuda -arch=sm_90 -arhc=sm_80'));
    expect(o.code).toBe(ErrorCodes.TARGET_PARSE);
    expect(o.message).toContain('-arhc');
    const w = errorOf(() => parseTarget('llvm mcpu=znver3'));
    expect(w.code).toBe(ErrorCodes.TARGET_PARSE);
    expect(w.message).toContain('mcpu=znver3');
  });

  it('rejects bad option values, duplicates and empty text', () => {
    const cases = [
      'llvm -mtriple=x86_64-linux-gnu -mcpu=znver3 -num-threads=two',
      'llvm -mtriple=x86_64-linux-gnu -mcpu=znver3 -num-threads=0',
      'llvm -mtriple=x86_64-linux-gnu -mcpu=znver3 -mattr=avx2 -num-threads=1',
      'llvm -mcpu',
      'cuda -arch=volta',
      'cuda -arch=sm_90 -arch=sm_80',
      'vulkan -supports-float16=maybe',
      '   ',
    ];
    for (const c of cases) {
      const e = errorOf(() => parseTarget(c, { host: linuxX64(EPYC) }));
      expect(e.code, c).toBe(ErrorCodes.TARGET_PARSE);
    }
    expect(errorOf(() => parseTarget('llvm -num-threads=two', { host: linuxX64(EPYC) })).message).toContain(
      '-num-threads',
    );
  });
});

describe('host detection', () => {
  it('reads an AMD EPYC (Zen 3)', () => {
    const h = detectHostCPU(linuxX64(EPYC));
    expect(h.mtriple).toBe('x86_64-linux-gnu');
    expect(h.mcpu).toBe('znver3');
    expect(h.features).toEqual(
      expect.arrayContaining(['+avx2', '+fma', '+sse4.2', '+bmi2', '+lzcnt', '+f16c']),
    );
    expect(h.features).not.toContain('+avx512f');
    expect(h.numThreads).toBe(8);
  });

  it('reads a Sapphire Rapids Xeon with AVX-512 and AMX', () => {
    const { mcpu, features } = cpuFromCpuinfo(SPR, 'x86');
    expect(mcpu).toBe('sapphirerapids');
    expect(features).toEqual(
      expect.arrayContaining([
        '+avx512f',
        '+avx512bw',
        '+avx512vnni',
        '+avx512bf16',
        '+avx512fp16',
        '+amx-tile',
        '+amx-int8',
        '+avxvnni',
      ]),
    );
  });

  it('falls back to an x86-64 level for unknown models', () => {
    expect(cpuFromCpuinfo(VM, 'x86').mcpu).toBe('x86-64-v3');
    expect(cpuFromCpuinfo('flags : sse sse2\n', 'x86').mcpu).toBe('x86-64');
    expect(cpuFromCpuinfo('', 'x86')).toEqual({ mcpu: 'x86-64', features: [] });
  });

  it('reads an AArch64 Graviton2 (Neoverse N1)', () => {
    const h = detectHostCPU({ cpuinfo: GRAVITON, arch: 'arm64', platform: 'linux', cpuCount: 64, env: {} });
    expect(h.mtriple).toBe('aarch64-linux-gnu');
    expect(h.mcpu).toBe('neoverse-n1');
    expect(h.features).toEqual([
      '+fp-armv8',
      '+neon',
      '+aes',
      '+sha2',
      '+crc',
      '+lse',
      '+rdm',
      '+fullfp16',
      '+dotprod',
    ]);
  });

  it('takes the thread count from KILN_NUM_THREADS, and rejects a bad one', () => {
    expect(detectHostCPU({ ...linuxX64(EPYC), env: { KILN_NUM_THREADS: '3' } }).numThreads).toBe(3);
    expect(errorOf(() => detectHostCPU({ ...linuxX64(EPYC), env: { KILN_NUM_THREADS: 'lots' } })).code).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
  });

  it('maps OS and architecture to triples', () => {
    expect(hostTriple('x64', 'linux')).toBe('x86_64-linux-gnu');
    expect(hostTriple('arm64', 'linux')).toBe('aarch64-linux-gnu');
    expect(hostTriple('arm64', 'darwin')).toBe('arm64-apple-darwin');
    expect(hostTriple('x64', 'win32')).toBe('x86_64-pc-windows-msvc');
  });

  it('detects only what the target string leaves out', () => {
    const t = parseTarget('llvm -mattr=-avx2,+avx512f', { host: linuxX64(EPYC) }) as LLVMTarget;
    expect(t.mcpu).toBe('znver3');
    expect(t.features).toContain('-avx2');
    expect(t.features).not.toContain('+avx2');
    expect(t.features).toContain('+avx512f');
    const cpuOnly = parseTarget('llvm -mcpu=skylake', { host: linuxX64(EPYC) }) as LLVMTarget;
    expect(cpuOnly).toMatchObject({
      mtriple: 'x86_64-linux-gnu',
      mcpu: 'skylake',
      features: [],
      numThreads: 8,
    });
    // cross-compiling: no host CPU features leak into another architecture
    const cross = parseTarget('llvm -mtriple=aarch64-linux-gnu', { host: linuxX64(EPYC) }) as LLVMTarget;
    expect(cross).toMatchObject({ mcpu: 'generic', features: [] });
    expect(hostTarget(linuxX64(GRAVITON)).mcpu).toBe('x86-64');
  });

  it('reads the real machine when nothing is injected', () => {
    const t = parseTarget('llvm') as LLVMTarget;
    expect(t.numThreads).toBeGreaterThan(0);
    expect(t.mtriple.length).toBeGreaterThan(0);
  });
});

describe('plugin target kinds', () => {
  const npu = defineTargetKind({
    kind: 'acme-npu',
    keys: ['acme-npu', 'npu'],
    options: z.object({
      cores: z.coerce.number().int().positive().default(4),
      fp8: z.coerce.boolean().optional(),
      precision: z.enum(['int8', 'fp16']).default('int8'),
    }),
  });

  it('parses and prints through the kind definition', () => {
    const t = parseTarget('acme-npu -cores=16 -precision=fp16', { kinds: [npu] }) as PluginTarget;
    expect(t).toEqual({
      kind: 'acme-npu',
      keys: ['acme-npu', 'npu'],
      attrs: { cores: 16, precision: 'fp16' },
    });
    const printed = targetToString(t, [npu]);
    expect(printed).toBe('acme-npu -cores=16 -precision=fp16');
    expect(parseTarget(printed, { kinds: [npu] })).toEqual(t);
    expect(targetToString(t)).toBe(printed);
  });

  it('reports bad options naming the field', () => {
    const e = errorOf(() => parseTarget('acme-npu -cores=-1', { kinds: [npu] }));
    expect(e.code).toBe(ErrorCodes.TARGET_PARSE);
    expect(e.message).toContain('cores');
    expect(errorOf(() => parseTarget('acme-npu -speed=9', { kinds: [npu] })).code).toBe(
      ErrorCodes.TARGET_PARSE,
    );
    expect(errorOf(() => parseTarget('acme-npu')).code).toBe(ErrorCodes.UNKNOWN_TARGET);
  });
});
