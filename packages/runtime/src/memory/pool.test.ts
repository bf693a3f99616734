// Memory pool tests: size classes, reuse, statistics, detach and double free.
import { describe, expect, it } from 'vitest';
import { cpu } from '../device/device.js';
import { isRuntimeError } from '../errors.js';
import { MemoryPool, sizeClass } from './pool.js';

describe('sizeClass', () => {
  it('rounds to 64-byte multiples, then to quarter powers of two', () => {
    expect([0, 1, 64, 65, 256].map(sizeClass)).toEqual([64, 64, 64, 128, 256]);
    expect([257, 320, 321, 1000, 4000, 4096, 4097].map(sizeClass)).toEqual([
      320, 320, 384, 1024, 4096, 4096, 5120,
    ]);
    for (let n = 1; n < 100000; n += 97) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c).toBeLessThanOrEqual(Math.max(64, n * 1.25 + 64));
    }
  });
});

describe('MemoryPool', () => {
  it('reuses freed buffers of the same class and tracks statistics', () => {
    const pool = new MemoryPool(cpu);
    const a = pool.allocate(1000);
    const b = pool.allocate(3000);
    expect(pool.stats()).toMatchObject({
      allocatedBytes: 1024 + 3072,
      inUseBytes: 4096,
      deviceAllocations: 2,
      reuses: 0,
    });
    pool.release(a);
    const c = pool.allocate(900); // same class as 1000
    expect(c).toBe(a);
    expect(pool.stats()).toMatchObject({ deviceAllocations: 2, reuses: 1, peakInUseBytes: 4096 });
    pool.release(b);
    pool.release(c);
    expect(pool.stats().inUseBytes).toBe(0);
    expect(pool.stats().allocatedBytes).toBe(4096);
    pool.trim();
    expect(pool.stats().allocatedBytes).toBe(0);
    expect(pool.stats().peakAllocatedBytes).toBe(4096);
    pool.resetPeak();
    expect(pool.stats().peakAllocatedBytes).toBe(0);
  });

  it('detached buffers leave the pool and are never reused', () => {
    const pool = new MemoryPool(cpu);
    const a = pool.allocate(100);
    pool.detach(a);
    expect(pool.stats()).toMatchObject({ allocatedBytes: 0, inUseBytes: 0 });
    expect(pool.allocate(100)).not.toBe(a);
  });

  it('a double release is caught', () => {
    const pool = new MemoryPool(cpu);
    const a = pool.allocate(10);
    pool.release(a);
    try {
      pool.release(a);
      expect.unreachable();
    } catch (e) {
      expect(isRuntimeError(e, 'INTERNAL')).toBe(true);
    }
  });
});
