// Device plug-in tests: a fake non-host-visible accelerator behind the Device
// interface, used by tensors, the memory pool and the VM.
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../errors.js';
import type { KernelArg } from '../module/kernel-module.js';
import { createRuntime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { arg, shapeOp } from '../vm/bytecode.js';
import type { Device, DeviceBuffer } from './device.js';

/** A stand-in accelerator: memory is not host-visible, only reachable through copies. */
class FakeAccelerator implements Device {
  readonly type = 'fake';
  readonly dlDeviceType = 99;
  readonly hostVisible = false;
  allocations = 0;
  constructor(readonly id = 0) {}
  allocate(nbytes: number): DeviceBuffer {
    this.allocations++;
    return { device: this, nbytes, handle: new Uint8Array(nbytes) };
  }
  free(): void {}
  mem(b: DeviceBuffer): Uint8Array {
    return b.handle as Uint8Array;
  }
  copyFromHost(dst: DeviceBuffer, off: number, src: Uint8Array): void {
    this.mem(dst).set(src, off);
  }
  copyToHost(src: DeviceBuffer, off: number, dst: Uint8Array): void {
    dst.set(this.mem(src).subarray(off, off + dst.byteLength));
  }
  copy(src: DeviceBuffer, so: number, dst: DeviceBuffer, doff: number, n: number): void {
    this.mem(dst).set(this.mem(src).subarray(so, so + n), doff);
  }
  address(): bigint | undefined {
    return undefined;
  }
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isRuntimeError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('pluggable devices', () => {
  it('tensors copy to and from a non-host device', () => {
    const dev = new FakeAccelerator();
    const x = Tensor.from([1.5, -2, 3.25, 4], [2, 2]);
    const onDev = x.copyTo(dev);
    expect(onDev.device).toBe(dev);
    expect(codeOf(() => onDev.toTypedArray())).toBe('UNSUPPORTED');
    expect(codeOf(() => onDev.toDLPack())).toBe('NATIVE_UNAVAILABLE');
    const back = onDev.copyTo(x.device);
    expect(back.toArray()).toEqual([1.5, -2, 3.25, 4]);
    expect(Tensor.zeros([3], 'int32', dev).copyTo(x.device).toArray()).toEqual([0, 0, 0]);
  });

  it('the VM allocates on, moves to, and runs kernels on a registered device', () => {
    const dev = new FakeAccelerator();
    const rt = createRuntime({ devices: [dev] });
    // A "device kernel" loader for this device: negates float32 in device memory.
    rt.registerLoader('fake-kernels', () => ({
      kind: 'fake-kernels',
      getFunction: (s) =>
        s === 'neg'
          ? ([src, dst]: readonly KernelArg[]) => {
              const a = new Float32Array(dev.mem((src as Tensor).storage).slice().buffer);
              const out = a.map((v) => -v);
              dev.mem((dst as Tensor).storage).set(new Uint8Array(out.buffer));
            }
          : undefined,
    }));
    const exe = rt.load({
      kilnVersion: 't',
      target: 'fake',
      devices: ['cpu:0', 'fake:0'],
      constants: [],
      kernelModules: [{ name: 'k', kind: 'fake-kernels', device: 1, symbols: {} }],
      functions: [
        {
          name: 'main',
          params: [{ name: 'x', sig: { kind: 'tensor', device: 0 } }],
          ret: { kind: 'tensor' },
          numRegisters: 4,
          heapSize: 0,
          numStorageSlots: 0,
          code: [
            { op: 'CallBuiltin', name: 'to_device', args: [arg.reg(0), arg.imm(1)], dst: 1 },
            { op: 'AllocTensor', dst: 2, shape: shapeOp.dims(4), dtype: 'float32', device: 1 },
            { op: 'CallKernel', module: 'k', symbol: 'neg', args: [arg.reg(1), arg.reg(2)] },
            { op: 'CallBuiltin', name: 'to_device', args: [arg.reg(2), arg.imm(0)], dst: 3 },
            { op: 'Ret', src: 3 },
          ],
        },
      ],
    });
    const y = exe.call('main', Tensor.from([1, 2, 3, 4], [4])) as Tensor;
    expect(y.toArray()).toEqual([-1, -2, -3, -4]);
    expect(rt.memoryStats()['fake:0']).toMatchObject({ inUseBytes: 0, deviceAllocations: 2 });
    exe.call('main', Tensor.from([1, 2, 3, 4], [4]));
    expect(rt.memoryStats()['fake:0'].deviceAllocations).toBe(2); // reused from the pool
    expect(codeOf(() => exe.call('main', Tensor.zeros([4], 'float32', dev)))).toBe('DEVICE_MISMATCH');
  });
});
