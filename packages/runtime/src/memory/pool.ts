// MemoryPool: per-device reuse of freed storage by size class, so a model run
// repeatedly (or a plan that frees and re-allocates) does not go back to the
// device allocator. Keeps statistics for tests and `kiln inspect`.
import type { Device, DeviceBuffer } from '../device/device.js';
import { RuntimeErrorCodes, runtimeError } from '../errors.js';

export interface PoolStats {
  /** Bytes currently held from the device (in use + cached free lists). */
  allocatedBytes: number;
  /** Highest `allocatedBytes` seen. */
  peakAllocatedBytes: number;
  /** Bytes currently handed out. */
  inUseBytes: number;
  peakInUseBytes: number;
  /** Device allocations made. */
  deviceAllocations: number;
  /** Requests served from a free list. */
  reuses: number;
}

/**
 * Size classes: multiples of 64 up to 256 bytes, then four classes per power of
 * two (so a block wastes at most 25% and a freed block fits later requests of
 * nearby size).
 */
export function sizeClass(nbytes: number): number {
  if (nbytes <= 256) return Math.max(64, Math.ceil(nbytes / 64) * 64);
  const p = 2 ** Math.floor(Math.log2(nbytes));
  const step = p / 4;
  return Math.ceil(nbytes / step) * step;
}

export class MemoryPool {
  private readonly free = new Map<number, DeviceBuffer[]>();
  private readonly owned = new Set<DeviceBuffer>();
  private readonly inUse = new Set<DeviceBuffer>();
  private s: PoolStats = {
    allocatedBytes: 0,
    peakAllocatedBytes: 0,
    inUseBytes: 0,
    peakInUseBytes: 0,
    deviceAllocations: 0,
    reuses: 0,
  };

  constructor(readonly device: Device) {}

  /** A buffer of at least `nbytes` bytes (its `nbytes` is the size class). */
  allocate(nbytes: number): DeviceBuffer {
    if (!Number.isSafeInteger(nbytes) || nbytes < 0) {
      runtimeError(RuntimeErrorCodes.INVALID_ARGUMENT, `cannot allocate ${nbytes} bytes`);
    }
    const cls = sizeClass(nbytes);
    const list = this.free.get(cls);
    let buf = list?.pop();
    if (buf) {
      this.s.reuses++;
    } else {
      buf = this.device.allocate(cls);
      this.owned.add(buf);
      this.s.deviceAllocations++;
      this.s.allocatedBytes += cls;
      this.s.peakAllocatedBytes = Math.max(this.s.peakAllocatedBytes, this.s.allocatedBytes);
    }
    this.inUse.add(buf);
    this.s.inUseBytes += cls;
    this.s.peakInUseBytes = Math.max(this.s.peakInUseBytes, this.s.inUseBytes);
    return buf;
  }

  /** True if `buf` came from this pool and is currently handed out. */
  isInUse(buf: DeviceBuffer): boolean {
    return this.inUse.has(buf);
  }

  /** Returns `buf` to its free list. Releasing a buffer twice or a foreign one is an error. */
  release(buf: DeviceBuffer): void {
    if (!this.inUse.delete(buf)) {
      runtimeError(RuntimeErrorCodes.INTERNAL, 'released a buffer the pool did not hand out (double free?)');
    }
    this.s.inUseBytes -= buf.nbytes;
    let list = this.free.get(buf.nbytes);
    if (!list) this.free.set(buf.nbytes, (list = []));
    list.push(buf);
  }

  /**
   * Gives up ownership of an in-use buffer: it escaped to the caller (a returned
   * tensor) and is reclaimed by the garbage collector, never reused.
   */
  detach(buf: DeviceBuffer): void {
    if (!this.inUse.delete(buf)) return;
    this.owned.delete(buf);
    this.s.inUseBytes -= buf.nbytes;
    this.s.allocatedBytes -= buf.nbytes;
  }

  /** Frees all cached (not in-use) buffers back to the device. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.owned.delete(b);
        this.s.allocatedBytes -= b.nbytes;
        this.device.free(b);
      }
    }
    this.free.clear();
  }

  stats(): PoolStats {
    return { ...this.s };
  }

  /** Resets the peak counters to the current values (e.g. between benchmark phases). */
  resetPeak(): void {
    this.s.peakAllocatedBytes = this.s.allocatedBytes;
    this.s.peakInUseBytes = this.s.inUseBytes;
  }
}
