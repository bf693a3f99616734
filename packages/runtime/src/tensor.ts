// Tensor: a DLPack-shaped view (dtype, shape, strides in elements, byte offset)
// over a DeviceBuffer. Views (reshape, permute, slice, fromTypedArray,
// toTypedArray) never copy; `contiguous()`/`copyTo()` are the explicit copies.
import {
  cpu,
  type Device,
  type DeviceBuffer,
  deviceName,
  hostBytes,
  wrapHostMemory,
} from './device/device.js';
import {
  type DLDataType,
  type DTypeInfo,
  dtypeInfo,
  dtypeOfTypedArray,
  isLowPrecisionFloatKind,
  type TypedArray,
} from './dtype.js';
import { RuntimeErrorCodes, runtimeError } from './errors.js';
import { bfloat16BitsToFloat, floatToBfloat16Bits, floatToHalfBits, halfBitsToFloat } from './half.js';
import { minifloatBitsToNumber, numberToMinifloatBits } from './minifloat.js';

/** The DLPack DLTensor fields, as a plain object (pointer as a bigint address). */
export interface DLPackDescriptor {
  readonly data: bigint;
  readonly device: { readonly deviceType: number; readonly deviceId: number };
  readonly ndim: number;
  readonly dtype: DLDataType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly byteOffset: number;
}

/** Row-major strides (in elements) for a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShape(shape: readonly number[], what: string): void {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      runtimeError(
        RuntimeErrorCodes.INVALID_ARGUMENT,
        `${what}: invalid dimension ${d} in shape [${shape.join(', ')}]`,
      );
    }
  }
}

export interface TensorInit {
  readonly storage: DeviceBuffer;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly strides?: readonly number[];
  readonly byteOffset?: number;
}

export class Tensor {
  readonly storage: DeviceBuffer;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Strides in elements (DLPack convention), not bytes. */
  readonly strides: readonly number[];
  /** Offset in bytes of element [0,...,0] from the start of `storage`. */
  readonly byteOffset: number;
  readonly info: DTypeInfo;

  constructor(init: TensorInit) {
    this.info = dtypeInfo(init.dtype);
    this.storage = init.storage;
    this.dtype = this.info.str;
    checkShape(init.shape, 'tensor');
    this.shape = Object.freeze([...init.shape]);
    this.strides = Object.freeze(init.strides ? [...init.strides] : contiguousStrides(init.shape));
    this.byteOffset = init.byteOffset ?? 0;
    if (this.strides.length !== this.shape.length) {
      runtimeError(
        RuntimeErrorCodes.INVALID_ARGUMENT,
        `strides [${this.strides.join(', ')}] do not match shape [${this.shape.join(', ')}]`,
      );
    }
    if (this.byteOffset % Math.min(this.info.bytes, 8) !== 0 && this.info.bytes <= 8) {
      runtimeError(
        RuntimeErrorCodes.INVALID_ARGUMENT,
        `byte offset ${this.byteOffset} is not aligned to ${this.dtype}`,
      );
    }
    // Every reachable element must lie inside the storage.
    const [lo, hi] = this.elementSpan();
    const size = this.size;
    if (
      size > 0 &&
      (this.byteOffset + lo * this.info.bytes < 0 ||
        this.byteOffset + (hi + 1) * this.info.bytes > this.storage.nbytes)
    ) {
      runtimeError(
        RuntimeErrorCodes.OUT_OF_BOUNDS,
        `tensor view (shape [${this.shape.join(', ')}], strides [${this.strides.join(', ')}], byte offset ${this.byteOffset}) exceeds its ${this.storage.nbytes}-byte storage`,
      );
    }
  }

  // ----- construction -------------------------------------------------------

  /** A tensor viewing `data`'s memory (no copy). `shape` defaults to 1-D. */
  static fromTypedArray(data: TypedArray, shape?: readonly number[], dtype?: string): Tensor {
    const dt = dtypeInfo(dtype ?? dtypeOfTypedArray(data));
    const shp = shape ?? [data.byteLength / dt.bytes];
    const need = numElements(shp) * dt.bytes;
    if (need !== data.byteLength) {
      runtimeError(
        RuntimeErrorCodes.SHAPE_MISMATCH,
        `shape [${shp.join(', ')}] of ${dt.str} needs ${need} bytes, the array has ${data.byteLength}`,
      );
    }
    return new Tensor({
      storage: wrapHostMemory(cpu, data.buffer, data.byteOffset, data.byteLength),
      dtype: dt.str,
      shape: shp,
    });
  }

  /** A tensor from plain values (copied), for tests and small inputs. */
  static from(
    values: readonly (number | bigint | boolean)[],
    shape: readonly number[],
    dtype = 'float32',
  ): Tensor {
    const t = Tensor.empty(shape, dtype);
    if (values.length !== t.size * t.info.lanes) {
      runtimeError(
        RuntimeErrorCodes.SHAPE_MISMATCH,
        `${values.length} values for shape [${shape.join(', ')}]`,
      );
    }
    const a = t.toTypedArray();
    const big = a instanceof BigInt64Array || a instanceof BigUint64Array;
    const kind = t.info.kind;
    const enc =
      kind === 'float' && t.info.bits === 16
        ? floatToHalfBits
        : kind === 'bfloat'
          ? floatToBfloat16Bits
          : isLowPrecisionFloatKind(kind)
            ? (x: number) => numberToMinifloatBits(kind, x)
            : (kind === 'int' || kind === 'uint') && t.info.bits < 8
              ? (x: number) => wrapNarrowInt(x, t.info.bits, kind === 'int')
              : undefined;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (big) (a as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Number(v));
      else (a as Float32Array)[i] = enc ? enc(Number(v)) : Number(v);
    }
    return t;
  }

  /** An uninitialised (zero-filled on the CPU) contiguous tensor with fresh, 64-byte aligned storage. */
  static empty(shape: readonly number[], dtype = 'float32', device: Device = cpu): Tensor {
    checkShape(shape, 'empty');
    const info = dtypeInfo(dtype);
    return new Tensor({ storage: device.allocate(numElements(shape) * info.bytes), dtype: info.str, shape });
  }

  static zeros(shape: readonly number[], dtype = 'float32', device: Device = cpu): Tensor {
    const t = Tensor.empty(shape, dtype, device);
    if (!device.hostVisible) device.copyFromHost(t.storage, 0, new Uint8Array(t.nbytes));
    // Host memory from `new ArrayBuffer` is already zeroed.
    return t;
  }

  // ----- properties ----------------------------------------------------------

  get device(): Device {
    return this.storage.device;
  }
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return numElements(this.shape);
  }
  /** Bytes spanned by the elements if laid out contiguously. */
  get nbytes(): number {
    return this.size * this.info.bytes;
  }

  /** Lowest and highest element offsets (relative to element 0) reachable by this view. */
  private elementSpan(): [number, number] {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < this.shape.length; i++) {
      if (this.shape[i] === 0) return [0, 0];
      const ext = (this.shape[i] - 1) * this.strides[i];
      if (ext < 0) lo += ext;
      else hi += ext;
    }
    return [lo, hi];
  }

  /** Row-major contiguous (size-1 dims may have any stride). */
  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] === 1) continue;
      if (this.strides[i] !== expected) return false;
      expected *= this.shape[i];
    }
    return true;
  }

  /** True when the first element's native address is a multiple of `alignment` (needs koffi; false when unknown). */
  isAligned(alignment = 64): boolean {
    const a = this.address();
    return a !== undefined && a % BigInt(alignment) === 0n;
  }

  // ----- views ---------------------------------------------------------------

  /** A new view over the same storage. */
  view(
    shape: readonly number[],
    strides?: readonly number[],
    byteOffset = this.byteOffset,
    dtype = this.dtype,
  ): Tensor {
    return new Tensor({ storage: this.storage, dtype, shape, strides, byteOffset });
  }

  /** Reshape without copying (contiguous tensors only; same element count). */
  reshape(shape: readonly number[]): Tensor {
    checkShape(shape, 'reshape');
    if (numElements(shape) !== this.size) {
      runtimeError(
        RuntimeErrorCodes.SHAPE_MISMATCH,
        `cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`,
      );
    }
    if (!this.isContiguous()) {
      runtimeError(
        RuntimeErrorCodes.NOT_CONTIGUOUS,
        `cannot reshape a non-contiguous tensor without a copy; call contiguous() first`,
      );
    }
    return this.view(shape, contiguousStrides(shape));
  }

  /** Permute axes (a strided view). */
  permute(axes: readonly number[]): Tensor {
    const seen = new Set(axes);
    if (
      axes.length !== this.ndim ||
      seen.size !== this.ndim ||
      axes.some((a) => !(a >= 0 && a < this.ndim))
    ) {
      runtimeError(
        RuntimeErrorCodes.INVALID_ARGUMENT,
        `invalid permutation [${axes.join(', ')}] for ${this.ndim}-D tensor`,
      );
    }
    return this.view(
      axes.map((a) => this.shape[a]),
      axes.map((a) => this.strides[a]),
    );
  }

  /** Elements start, start+step, ... < end along `axis` (a strided view; step ≥ 1). */
  slice(axis: number, start: number, end: number, step = 1): Tensor {
    const n = this.shape[axis];
    if (n === undefined || !(step >= 1) || start < 0 || end > n || start > end) {
      runtimeError(
        RuntimeErrorCodes.OUT_OF_BOUNDS,
        `slice [${start}:${end}:${step}] of axis ${axis} (size ${n})`,
      );
    }
    const shape = [...this.shape];
    const strides = [...this.strides];
    shape[axis] = Math.ceil((end - start) / step);
    strides[axis] = this.strides[axis] * step;
    return this.view(shape, strides, this.byteOffset + start * this.strides[axis] * this.info.bytes);
  }

  // ----- host access ---------------------------------------------------------

  private requireHost(what: string): { buffer: ArrayBufferLike; offset: number } {
    const h = this.storage.host;
    if (!h) {
      runtimeError(
        RuntimeErrorCodes.UNSUPPORTED,
        `${what} needs host memory; tensor is on ${deviceName(this.device)} (copy it with copyTo(cpu))`,
      );
    }
    return h;
  }

  /**
   * A TypedArray viewing this tensor's elements (no copy; writes go to the tensor).
   * Contiguous host tensors only. float16/bfloat16 come back as raw Uint16 bits,
   * bool as Uint8, vector dtypes as their lanes.
   */
  toTypedArray(): TypedArray {
    const h = this.requireHost('toTypedArray');
    if (!this.isContiguous()) {
      runtimeError(
        RuntimeErrorCodes.NOT_CONTIGUOUS,
        'toTypedArray needs a contiguous tensor; call contiguous() first',
      );
    }
    return new this.info.array(
      h.buffer as ArrayBuffer,
      h.offset + this.byteOffset,
      this.size * this.info.lanes,
    );
  }

  /**
   * The bytes from this tensor's first element to the end of its storage, as a
   * Uint8Array over the same memory. Passing it to a koffi pointer parameter
   * hands the native function the element-0 address without copying.
   */
  dataPointer(): Uint8Array {
    const h = this.requireHost('dataPointer');
    return new Uint8Array(
      h.buffer as ArrayBuffer,
      h.offset + this.byteOffset,
      this.storage.nbytes - this.byteOffset,
    );
  }

  /** Native address of element 0 (bigint), or undefined when unknown (no koffi / opaque device). */
  address(): bigint | undefined {
    const base = this.device.address(this.storage);
    return base === undefined ? undefined : base + BigInt(this.byteOffset);
  }

  /** The DLPack DLTensor fields for native interop. Throws NATIVE_UNAVAILABLE when no address is known. */
  toDLPack(): DLPackDescriptor {
    // DLPack packs types narrower than a byte; Kiln keeps one element per byte.
    if (this.info.bits < 8 && this.info.kind !== 'bool')
      runtimeError(
        RuntimeErrorCodes.UNSUPPORTED,
        `DLPack packs ${this.info.str} elements but Kiln stores one per byte; convert with a cast first`,
      );
    const data = this.device.address(this.storage);
    if (data === undefined) {
      runtimeError(
        RuntimeErrorCodes.NATIVE_UNAVAILABLE,
        `no native address for memory on ${deviceName(this.device)}`,
      );
    }
    return {
      data,
      device: { deviceType: this.device.dlDeviceType, deviceId: this.device.id },
      ndim: this.ndim,
      dtype: this.info.dl,
      shape: this.shape,
      strides: this.strides,
      byteOffset: this.byteOffset,
    };
  }

  /**
   * Element values in row-major order (a copy; works for strided views). bigint for
   * 64-bit ints; float16/bfloat16 decoded to numbers.
   */
  toArray(): (number | bigint)[] {
    const src = this.contiguous().toTypedArray();
    const kind = this.info.kind;
    const dec =
      kind === 'float' && this.info.bits === 16
        ? halfBitsToFloat
        : kind === 'bfloat'
          ? bfloat16BitsToFloat
          : isLowPrecisionFloatKind(kind)
            ? (c: number) => minifloatBitsToNumber(kind, c)
            : undefined;
    if (dec) return Array.from(src as Uint16Array, dec);
    return Array.from(src as ArrayLike<number | bigint>);
  }

  // ----- copies --------------------------------------------------------------

  /** This tensor if contiguous, otherwise a contiguous copy on the same device. */
  contiguous(): Tensor {
    if (this.isContiguous()) return this;
    const out = Tensor.empty(this.shape, this.dtype, this.device);
    this.copyInto(out);
    return out;
  }

  /** A contiguous copy on `device`. */
  copyTo(device: Device): Tensor {
    const out = Tensor.empty(this.shape, this.dtype, device);
    this.copyInto(out);
    return out;
  }

  /** Copies the elements into `dst` (same shape and dtype; any strides on host memory, contiguous otherwise). */
  copyInto(dst: Tensor): void {
    if (dst.dtype !== this.dtype) {
      runtimeError(RuntimeErrorCodes.DTYPE_MISMATCH, `copy from ${this.dtype} into ${dst.dtype}`);
    }
    if (dst.shape.length !== this.shape.length || dst.shape.some((d, i) => d !== this.shape[i])) {
      runtimeError(
        RuntimeErrorCodes.SHAPE_MISMATCH,
        `copy from [${this.shape.join(', ')}] into [${dst.shape.join(', ')}]`,
      );
    }
    const n = this.nbytes;
    if (n === 0) return;
    const srcC = this.isContiguous();
    const dstC = dst.isContiguous();
    if (srcC && dstC) {
      if (this.device === dst.device) {
        this.device.copy(this.storage, this.byteOffset, dst.storage, dst.byteOffset, n);
      } else if (this.storage.host) {
        dst.device.copyFromHost(dst.storage, dst.byteOffset, hostBytes(this.storage, this.byteOffset, n));
      } else if (dst.storage.host) {
        this.device.copyToHost(this.storage, this.byteOffset, hostBytes(dst.storage, dst.byteOffset, n));
      } else {
        // Between two accelerators: stage through the host.
        const tmp = new Uint8Array(n);
        this.device.copyToHost(this.storage, this.byteOffset, tmp);
        dst.device.copyFromHost(dst.storage, dst.byteOffset, tmp);
      }
      return;
    }
    if (!this.storage.host || !dst.storage.host) {
      runtimeError(RuntimeErrorCodes.NOT_CONTIGUOUS, 'strided copies are only supported on host memory');
    }
    stridedCopy(this, dst);
  }
}

/** Element-wise strided copy between two host tensors of the same shape and dtype. */
function stridedCopy(src: Tensor, dst: Tensor): void {
  const lanes = src.info.lanes;
  const A = src.info.array;
  const sh = src.storage.host as { buffer: ArrayBuffer; offset: number };
  const dh = dst.storage.host as { buffer: ArrayBuffer; offset: number };
  const lane = src.info.bytes / lanes;
  // Views over whole storages in lane units; offsets are multiples of the lane size.
  const sArr = new A(sh.buffer, sh.offset, Math.floor(src.storage.nbytes / lane)) as unknown as {
    [i: number]: number | bigint;
  };
  const dArr = new A(dh.buffer, dh.offset, Math.floor(dst.storage.nbytes / lane)) as unknown as {
    [i: number]: number | bigint;
  };
  const s0 = src.byteOffset / lane;
  const d0 = dst.byteOffset / lane;
  const nd = src.ndim;
  const idx = new Array<number>(nd).fill(0);
  const total = src.size;
  for (let k = 0; k < total; k++) {
    let so = s0;
    let doff = d0;
    for (let i = 0; i < nd; i++) {
      so += idx[i] * src.strides[i] * lanes;
      doff += idx[i] * dst.strides[i] * lanes;
    }
    for (let l = 0; l < lanes; l++) dArr[doff + l] = sArr[so + l];
    for (let i = nd - 1; i >= 0; i--) {
      if (++idx[i] < src.shape[i]) break;
      idx[i] = 0;
    }
  }
}

/** `Tensor.empty` as a function. */
export function empty(shape: readonly number[], dtype = 'float32', device: Device = cpu): Tensor {
  return Tensor.empty(shape, dtype, device);
}

/** `Tensor.zeros` as a function. */
export function zeros(shape: readonly number[], dtype = 'float32', device: Device = cpu): Tensor {
  return Tensor.zeros(shape, dtype, device);
}

/** Wrap an integer to `bits` bits (two's complement when signed), like a C cast. */
function wrapNarrowInt(x: number, bits: number, signed: boolean): number {
  if (!Number.isFinite(x)) return 0;
  const m = 2 ** bits;
  const w = ((Math.trunc(x) % m) + m) % m;
  return signed && w >= m / 2 ? w - m : w;
}
