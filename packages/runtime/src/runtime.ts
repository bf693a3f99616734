// Runtime: one instance owns a device registry, module loaders, builtins and
// memory pools (no module-level state), and turns artifacts into Executables.
import { existsSync } from 'node:fs';
import type { Artifact } from './artifact/format.js';
import { readArtifact, readArtifactFile } from './artifact/reader.js';
import { CPU_ALIGNMENT, cpu, type Device, DeviceRegistry, deviceName, hostBytes } from './device/device.js';
import { RuntimeErrorCodes, runtimeError } from './errors.js';
import { Executable } from './executable.js';
import { MemoryPool, type PoolStats } from './memory/pool.js';
import { cpuSoLoader } from './module/cpu-so.js';
import { type JsKernels, jsLoader, type KernelModule, type ModuleLoader } from './module/kernel-module.js';
import { bufferAddress } from './native.js';
import { type BuiltinFunction, DEFAULT_BUILTINS } from './vm/builtins.js';

export interface RuntimeOptions {
  /** Devices besides the built-in `cpu:0`. */
  readonly devices?: readonly Device[];
}

export interface LoadOptions {
  /** Implementations of the artifact's `js` kernel modules, by module name. */
  readonly jsModules?: Readonly<Record<string, JsKernels | KernelModule>>;
  /** Verify section checksums (default true). */
  readonly verifyChecksums?: boolean;
  /** Name for error messages when loading bytes or an in-memory artifact. */
  readonly source?: string;
}

export class Runtime {
  readonly devices: DeviceRegistry;
  private readonly loaders = new Map<string, ModuleLoader>([
    ['cpu-so', cpuSoLoader],
    ['js', jsLoader],
  ]);
  private readonly builtins = new Map<string, BuiltinFunction>(Object.entries(DEFAULT_BUILTINS));
  private readonly pools = new Map<Device, MemoryPool>();

  constructor(options: RuntimeOptions = {}) {
    this.devices = new DeviceRegistry([cpu, ...(options.devices ?? [])]);
  }

  /** Adds (or replaces) the loader for a kernel module kind. */
  registerLoader(kind: string, loader: ModuleLoader): void {
    this.loaders.set(kind, loader);
  }

  registerDevice(device: Device): void {
    this.devices.register(device);
  }

  /** Adds (or replaces) a builtin callable by `CallBuiltin`. */
  registerBuiltin(name: string, fn: BuiltinFunction): void {
    this.builtins.set(name, fn);
  }

  /** The memory pool for `device` (created on first use). */
  pool(device: Device): MemoryPool {
    let p = this.pools.get(device);
    if (!p) this.pools.set(device, (p = new MemoryPool(device)));
    return p;
  }

  /** Frees every pool's cached (unused) buffers back to its device. */
  trim(): void {
    for (const p of this.pools.values()) p.trim();
  }

  /** Pool statistics per device name. */
  memoryStats(): Record<string, PoolStats> {
    const out: Record<string, PoolStats> = {};
    for (const [d, p] of this.pools) out[deviceName(d)] = p.stats();
    return out;
  }

  /**
   * Loads an artifact from a `.kiln` path, from its bytes, or from an in-memory
   * Artifact (the compiler's tests skip serialisation this way).
   */
  load(src: string | Uint8Array | Artifact, options: LoadOptions = {}): Executable {
    let artifact: Artifact;
    let source: string;
    if (typeof src === 'string') {
      if (!existsSync(src)) runtimeError(RuntimeErrorCodes.ARTIFACT_IO, `artifact '${src}' does not exist`);
      artifact = readArtifactFile(src, { verifyChecksums: options.verifyChecksums });
      source = src;
    } else if (src instanceof Uint8Array) {
      source = options.source ?? '<bytes>';
      artifact = readArtifact(alignedBytes(src), { source, verifyChecksums: options.verifyChecksums });
    } else {
      artifact = alignConstants(src);
      source = options.source ?? '<artifact>';
    }
    return new Executable(
      artifact,
      {
        resolveDevice: (spec) => this.devices.get(spec),
        loader: (kind) => this.loaders.get(kind),
        builtin: (name) => this.builtins.get(name),
        pool: (device) => this.pool(device),
      },
      { source, jsModules: options.jsModules ?? {} },
    );
  }
}

/** `bytes` itself when its start is 64-byte aligned in memory (or unknown), else an aligned copy. */
function alignedBytes(bytes: Uint8Array): Uint8Array {
  const base = bufferAddress(bytes.buffer as ArrayBuffer);
  if (base === undefined || (base + BigInt(bytes.byteOffset)) % BigInt(CPU_ALIGNMENT) === 0n) return bytes;
  const copy = hostBytes(cpu.allocate(bytes.byteLength), 0, bytes.byteLength);
  copy.set(bytes);
  return copy;
}

/**
 * An in-memory artifact (straight from the compiler) holds its constants in whatever
 * memory JavaScript gave them; kernels read weights as aligned vectors (a 1024³ matmul
 * ran a third slower on unaligned panels), so each unaligned constant is copied once.
 */
function alignConstants(a: Artifact): Artifact {
  let changed = false;
  const constants = a.constants.map((c) => {
    const data = alignedBytes(c.data);
    if (data === c.data) return c;
    changed = true;
    return { ...c, data };
  });
  return changed ? { ...a, constants } : a;
}

export function createRuntime(options?: RuntimeOptions): Runtime {
  return new Runtime(options);
}
