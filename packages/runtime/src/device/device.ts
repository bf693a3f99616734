// Devices: where tensor memory lives. `cpu` is built in; accelerators (vulkan,
// cuda, metal) plug in later behind the same interface and are registered in a
// runtime's DeviceRegistry (one per runtime instance, no global state).
import { RuntimeErrorCodes, runtimeError } from '../errors.js';
import { bufferAddress } from '../native.js';

/** DLPack DLDeviceType values for the devices Kiln knows. */
export const DLDeviceType = {
  cpu: 1,
  cuda: 2,
  cudaHost: 3,
  opencl: 4,
  vulkan: 7,
  metal: 8,
  rocm: 10,
} as const;

export type DeviceType = 'cpu' | 'cuda' | 'vulkan' | 'metal' | (string & {});

/** CPU storage alignment: enough for AVX-512 loads and what codegen-llvm assumes. */
export const CPU_ALIGNMENT = 64;

/**
 * One raw allocation on a device. Host-visible memory exposes `host`: the
 * ArrayBuffer and the (aligned) byte offset at which the allocation starts.
 * Device memory instead carries an opaque `handle` owned by its Device.
 */
export interface DeviceBuffer {
  readonly device: Device;
  readonly nbytes: number;
  readonly host?: { readonly buffer: ArrayBufferLike; readonly offset: number };
  readonly handle?: unknown;
}

export interface Device {
  readonly type: DeviceType;
  readonly id: number;
  /** DLPack device type code (DLDeviceType). */
  readonly dlDeviceType: number;
  /** True when `DeviceBuffer.host` is set (tensors can be viewed as TypedArrays). */
  readonly hostVisible: boolean;
  allocate(nbytes: number): DeviceBuffer;
  free(buffer: DeviceBuffer): void;
  copyFromHost(dst: DeviceBuffer, dstOffset: number, src: Uint8Array): void;
  copyToHost(src: DeviceBuffer, srcOffset: number, dst: Uint8Array): void;
  /** Device-to-device copy within this device. */
  copy(src: DeviceBuffer, srcOffset: number, dst: DeviceBuffer, dstOffset: number, nbytes: number): void;
  /** Native address of the start of `buffer`, for DLPack descriptors; undefined when unknown. */
  address(buffer: DeviceBuffer): bigint | undefined;
}

/** `cpu:0` style name. */
export function deviceName(d: { type: string; id: number }): string {
  return `${d.type}:${d.id}`;
}

/**
 * The host CPU. Storage is an ArrayBuffer over-allocated by CPU_ALIGNMENT-1 bytes;
 * the allocation starts at the first offset whose native address is a multiple of
 * CPU_ALIGNMENT (found through koffi.address). ArrayBuffers created with
 * `new ArrayBuffer` keep their backing store off the V8 heap, so the address does
 * not move and the alignment holds for the buffer's lifetime. Without koffi the
 * offset is 0 (malloc alignment, 16 bytes on 64-bit platforms).
 */
export class CpuDevice implements Device {
  readonly type = 'cpu';
  readonly dlDeviceType = DLDeviceType.cpu;
  readonly hostVisible = true;
  constructor(readonly id = 0) {}

  allocate(nbytes: number): DeviceBuffer {
    if (!Number.isSafeInteger(nbytes) || nbytes < 0) {
      runtimeError(RuntimeErrorCodes.INVALID_ARGUMENT, `cannot allocate ${nbytes} bytes on cpu`);
    }
    const buffer = new ArrayBuffer(nbytes + CPU_ALIGNMENT - 1);
    const addr = bufferAddress(buffer);
    const offset =
      addr === undefined
        ? 0
        : Number((BigInt(CPU_ALIGNMENT) - (addr % BigInt(CPU_ALIGNMENT))) % BigInt(CPU_ALIGNMENT));
    return { device: this, nbytes, host: { buffer, offset } };
  }

  free(_buffer: DeviceBuffer): void {
    // Garbage collected; nothing to do.
  }

  copyFromHost(dst: DeviceBuffer, dstOffset: number, src: Uint8Array): void {
    hostBytes(dst, dstOffset, src.byteLength).set(src);
  }

  copyToHost(src: DeviceBuffer, srcOffset: number, dst: Uint8Array): void {
    dst.set(hostBytes(src, srcOffset, dst.byteLength));
  }

  copy(src: DeviceBuffer, srcOffset: number, dst: DeviceBuffer, dstOffset: number, nbytes: number): void {
    hostBytes(dst, dstOffset, nbytes).set(hostBytes(src, srcOffset, nbytes));
  }

  address(buffer: DeviceBuffer): bigint | undefined {
    if (!buffer.host) return undefined;
    const base = bufferAddress(buffer.host.buffer as ArrayBuffer);
    return base === undefined ? undefined : base + BigInt(buffer.host.offset);
  }
}

/** A Uint8Array over [offset, offset+length) of a host-visible buffer (bounds-checked). */
export function hostBytes(buf: DeviceBuffer, offset: number, length: number): Uint8Array {
  if (!buf.host) {
    runtimeError(RuntimeErrorCodes.UNSUPPORTED, `memory on ${deviceName(buf.device)} is not host-visible`);
  }
  if (offset < 0 || length < 0 || offset + length > buf.nbytes) {
    runtimeError(
      RuntimeErrorCodes.OUT_OF_BOUNDS,
      `byte range [${offset}, ${offset + length}) outside a ${buf.nbytes}-byte buffer on ${deviceName(buf.device)}`,
    );
  }
  return new Uint8Array(buf.host.buffer, buf.host.offset + offset, length);
}

/** Wraps existing host memory (a TypedArray's bytes) as a cpu DeviceBuffer, without copying. */
export function wrapHostMemory(
  device: Device,
  buffer: ArrayBufferLike,
  offset: number,
  nbytes: number,
): DeviceBuffer {
  return { device, nbytes, host: { buffer, offset } };
}

/** The process-wide CPU device object (stateless, so sharing it is harmless). */
export const cpu: Device = new CpuDevice(0);

/** Devices known to one runtime instance, by `type:id`. */
export class DeviceRegistry {
  private readonly devices = new Map<string, Device>();

  constructor(initial: readonly Device[] = [cpu]) {
    for (const d of initial) this.register(d);
  }

  register(device: Device): void {
    this.devices.set(deviceName(device), device);
  }

  has(type: DeviceType, id = 0): boolean {
    return this.devices.has(`${type}:${id}`);
  }

  /** Resolve `cpu`, `cpu:0`, `cuda:1`, or a (type, id) pair. Throws UNKNOWN_DEVICE. */
  get(spec: string, id?: number): Device {
    let key = spec;
    if (id !== undefined) key = `${spec}:${id}`;
    else if (!spec.includes(':')) key = `${spec}:0`;
    const d = this.devices.get(key);
    if (!d) {
      runtimeError(
        RuntimeErrorCodes.UNKNOWN_DEVICE,
        `device '${key}' is not registered in this runtime (known: ${[...this.devices.keys()].join(', ')})`,
      );
    }
    return d;
  }

  list(): Device[] {
    return [...this.devices.values()];
  }
}
