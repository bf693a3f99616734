// Test helper: load a built kernel library with koffi and call kernels on typed arrays.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import type { CPUKernelLibrary } from './build.js';

const C_TYPES: Record<string, string> = {
  ptr: 'void *',
  i8: 'int8_t',
  u8: 'uint8_t',
  i16: 'int16_t',
  u16: 'uint16_t',
  i32: 'int32_t',
  u32: 'uint32_t',
  i64: 'int64_t',
  u64: 'uint64_t',
  f32: 'float',
  f64: 'double',
};

export type KernelCall = (...args: Array<ArrayBufferView | number | bigint>) => void;

export function loadLibrary(lib: CPUKernelLibrary): { kernels: Record<string, KernelCall>; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-cg-test-'));
  const path = join(dir, 'lib.so');
  writeFileSync(path, lib.library);
  const handle = koffi.load(path);
  const kernels: Record<string, KernelCall> = {};
  for (const k of lib.kernels) {
    const fn = handle.func(
      k.symbol,
      'void',
      k.cTypes.map((t) => C_TYPES[t]),
    );
    kernels[k.symbol] = (...args) => {
      fn(...args);
    };
  }
  return {
    kernels,
    close() {
      handle.unload();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
