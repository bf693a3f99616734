// `cpu-so` loader: a host shared library stored in the artifact. Its bytes are
// written to a fresh private temp directory (mkdtemp, mode 0700), loaded with
// koffi, and the file is removed right away on POSIX (the mapping stays valid);
// elsewhere it is removed on dispose or at process exit. Each symbol is declared
// from the signature recorded in the artifact; tensors pass as pointers into
// their own memory (no copies).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeDLTensor } from '../dlpack.js';
import { RuntimeErrorCodes, runtimeError } from '../errors.js';
import { requireKoffi } from '../native.js';
import { Tensor } from '../tensor.js';
import type {
  KernelArg,
  KernelFunction,
  KernelModule,
  KernelSignature,
  ModuleLoader,
  NativeArgKind,
} from './kernel-module.js';

const KOFFI_TYPE: Record<NativeArgKind, string> = {
  ptr: 'void *',
  dltensor: 'void *',
  i32: 'int32_t',
  i64: 'int64_t',
  f32: 'float',
  f64: 'double',
};

const pendingCleanup = new Set<string>();
let exitHookInstalled = false;
function cleanupLater(dir: string): void {
  pendingCleanup.add(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const d of pendingCleanup) rmSync(d, { recursive: true, force: true });
    });
  }
}

function pointerArg(a: KernelArg, symbol: string, i: number): Uint8Array | bigint {
  if (a instanceof Tensor) {
    if (a.device.type !== 'cpu') {
      runtimeError(
        RuntimeErrorCodes.DEVICE_MISMATCH,
        `kernel '${symbol}' argument ${i}: tensor is on ${a.device.type}, the kernel runs on cpu`,
      );
    }
    // A bare pointer carries no strides: a strided view would be read as if compact.
    if (!a.isContiguous()) {
      runtimeError(
        RuntimeErrorCodes.NOT_CONTIGUOUS,
        `kernel '${symbol}' argument ${i}: a non-contiguous tensor cannot be passed as a plain pointer (use a DLTensor* parameter or copy it)`,
      );
    }
    return a.dataPointer();
  }
  if (typeof a === 'bigint') return a; // a raw address
  return runtimeError(
    RuntimeErrorCodes.TYPE_MISMATCH,
    `kernel '${symbol}' argument ${i}: expected a tensor (pointer), got ${typeof a}`,
  );
}

function dlTensorArg(a: KernelArg, symbol: string, i: number): Uint8Array {
  if (!(a instanceof Tensor)) {
    return runtimeError(
      RuntimeErrorCodes.TYPE_MISMATCH,
      `kernel '${symbol}' argument ${i}: expected a tensor (DLTensor*), got ${typeof a}`,
    );
  }
  return encodeDLTensor(a);
}

function scalarArg(a: KernelArg, symbol: string, i: number): number | bigint {
  if (typeof a === 'number' || typeof a === 'bigint') return a;
  if (typeof a === 'boolean') return a ? 1 : 0;
  return runtimeError(
    RuntimeErrorCodes.TYPE_MISMATCH,
    `kernel '${symbol}' argument ${i}: expected a scalar, got a tensor`,
  );
}

/**
 * Kiln's CPU kernel libraries carry a thread pool (`kiln_set_num_threads`). The thread
 * count comes from KILN_NUM_THREADS when set, else from the target the artifact was
 * compiled for (`meta.numThreads`); libraries without the symbol are left alone.
 */
function configureThreads(
  lib: { func(name: string, ret: string, args: string[]): (...a: unknown[]) => unknown },
  fromTarget: unknown,
): void {
  const env = Number(process.env.KILN_NUM_THREADS);
  const n =
    Number.isInteger(env) && env > 0
      ? env
      : typeof fromTarget === 'number' && fromTarget > 0
        ? fromTarget
        : undefined;
  if (n === undefined) return;
  let setThreads: ((...a: unknown[]) => unknown) | undefined;
  try {
    setThreads = lib.func('kiln_set_num_threads', 'int', ['int']);
  } catch {
    return;
  }
  setThreads(n);
}

/** ELF `e_machine` values of the architectures Node runs on. */
const ELF_MACHINE: Readonly<Record<number, string>> = { 3: 'ia32', 62: 'x64', 183: 'arm64', 40: 'arm' };

/** The Node architecture an ELF library is built for, or undefined when it is not ELF. */
function elfArch(data: Uint8Array): string | undefined {
  if (data.byteLength < 20 || data[0] !== 0x7f || data[1] !== 0x45 || data[2] !== 0x4c || data[3] !== 0x46)
    return undefined;
  const machine = data[5] === 2 ? (data[18] << 8) | data[19] : data[18] | (data[19] << 8);
  return ELF_MACHINE[machine] ?? `ELF machine ${machine}`;
}

export const cpuSoLoader: ModuleLoader = (entry, ctx) => {
  const koffi = requireKoffi(`loading kernel module '${entry.name}'`);
  if (!entry.data || entry.data.byteLength === 0) {
    runtimeError(
      RuntimeErrorCodes.MODULE_LOAD,
      `${ctx.source}: cpu-so module '${entry.name}' has no library bytes`,
    );
  }
  // A library cross-compiled for another CPU (kiln compile --target 'llvm -mtriple=aarch64-...')
  // is refused by name rather than by the dynamic loader's message.
  const arch = elfArch(entry.data);
  if (arch !== undefined && arch !== process.arch) {
    runtimeError(
      RuntimeErrorCodes.MODULE_LOAD,
      `${ctx.source}: cpu-so module '${entry.name}' is compiled for ${arch}, and this machine is ${process.arch}: compile the model for this machine's target, or run the artifact on an ${arch} machine`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'kiln-so-'));
  const ext = process.platform === 'win32' ? 'dll' : process.platform === 'darwin' ? 'dylib' : 'so';
  const file = join(dir, `${entry.name.replace(/[^\w.-]/g, '_')}.${ext}`);
  let lib: ReturnType<typeof koffi.load>;
  try {
    writeFileSync(file, entry.data, { mode: 0o600 });
    lib = koffi.load(file);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return runtimeError(
      RuntimeErrorCodes.MODULE_LOAD,
      `${ctx.source}: cannot load cpu-so module '${entry.name}': ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (process.platform !== 'win32') rmSync(dir, { recursive: true, force: true });
  else cleanupLater(dir);
  configureThreads(lib, entry.meta?.numThreads);

  const cache = new Map<string, KernelFunction>();
  let disposed = false;
  const bind = (symbol: string, sig: KernelSignature): KernelFunction => {
    let native: (...a: unknown[]) => unknown;
    try {
      native = lib.func(
        symbol,
        sig.ret === 'i32' ? 'int32_t' : 'void',
        sig.packed ? ['void *'] : sig.args.map((k) => KOFFI_TYPE[k]),
      );
    } catch (e) {
      return runtimeError(
        RuntimeErrorCodes.UNKNOWN_KERNEL,
        `${ctx.source}: symbol '${symbol}' not found in module '${entry.name}'`,
        { cause: e },
      );
    }
    const kinds = sig.args;
    const n = kinds.length;
    const conv = new Array<unknown>(n);
    // Packed: one slot per argument; `conv` keeps the converted values (DLTensor
    // structs among them) alive for the duration of the call.
    const slots = sig.packed ? new DataView(new ArrayBuffer(8 * Math.max(n, 1))) : undefined;
    const pack = (): Uint8Array => {
      const d = slots!;
      for (let i = 0; i < n; i++) {
        const v = conv[i];
        const at = 8 * i;
        switch (kinds[i]) {
          case 'ptr':
          case 'dltensor':
            d.setBigUint64(at, typeof v === 'bigint' ? v : koffi.address(v as Uint8Array), true);
            break;
          case 'f32':
            d.setFloat32(at, Number(v), true);
            break;
          case 'f64':
            d.setFloat64(at, Number(v), true);
            break;
          default:
            d.setBigInt64(
              at,
              BigInt.asIntN(64, typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)) || 0)),
              true,
            );
        }
      }
      return new Uint8Array(d.buffer);
    };
    return (args) => {
      if (disposed) runtimeError(RuntimeErrorCodes.MODULE_LOAD, `module '${entry.name}' was disposed`);
      if (args.length !== n) {
        runtimeError(
          RuntimeErrorCodes.ARITY_MISMATCH,
          `kernel '${symbol}' takes ${n} arguments, got ${args.length}`,
        );
      }
      for (let i = 0; i < n; i++) {
        const k = kinds[i];
        conv[i] =
          k === 'ptr'
            ? pointerArg(args[i], symbol, i)
            : k === 'dltensor'
              ? dlTensorArg(args[i], symbol, i)
              : scalarArg(args[i], symbol, i);
      }
      const rc = slots ? native(pack()) : native(...conv);
      if (sig.ret === 'i32' && rc !== 0) {
        runtimeError(
          RuntimeErrorCodes.KERNEL_FAILED,
          `kernel '${symbol}' in module '${entry.name}' returned error code ${String(rc)}`,
        );
      }
    };
  };
  const mod: KernelModule = {
    kind: 'cpu-so',
    getFunction(symbol) {
      const hit = cache.get(symbol);
      if (hit) return hit;
      const sig = Object.hasOwn(entry.symbols, symbol) ? entry.symbols[symbol] : undefined;
      if (!sig) return undefined;
      const f = bind(symbol, sig);
      cache.set(symbol, f);
      return f;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      cache.clear();
      lib.unload();
      if (pendingCleanup.delete(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
  return mod;
};
