// Native DLTensor structs for kernels that take `DLTensor*` (DLPack ABI, as TVM's
// packed functions do). The struct and its shape/strides arrays are encoded into
// one fresh ArrayBuffer; `new ArrayBuffer` memory is off the V8 heap, so the
// addresses written into it stay valid for the duration of a native call.
//
// struct DLTensor {            // 64-bit little-endian layout, 48 bytes
//   void*    data;             //  0  storage base address
//   int32_t  device_type;      //  8  DLDevice
//   int32_t  device_id;        // 12
//   int32_t  ndim;             // 16
//   uint8_t  code; uint8_t bits; uint16_t lanes;  // 20  DLDataType
//   int64_t* shape;            // 24
//   int64_t* strides;          // 32  (in elements)
//   uint64_t byte_offset;      // 40
// };                           // followed here by shape[ndim], strides[ndim]
import { RuntimeErrorCodes, runtimeError } from './errors.js';
import { requireKoffi } from './native.js';
import type { Tensor } from './tensor.js';

export const DLTENSOR_BYTES = 48;

/** Encodes `t` as a native DLTensor; pass the result to a `DLTensor*` parameter (keep it alive during the call). */
export function encodeDLTensor(t: Tensor): Uint8Array {
  const koffi = requireKoffi('encoding a DLTensor');
  if (koffi.sizeof('void *') !== 8)
    runtimeError(RuntimeErrorCodes.UNSUPPORTED, 'DLTensor encoding needs a 64-bit platform');
  const d = t.toDLPack();
  const buf = new ArrayBuffer(DLTENSOR_BYTES + 16 * d.ndim);
  const base = koffi.address(buf);
  const dv = new DataView(buf);
  dv.setBigUint64(0, d.data, true);
  dv.setInt32(8, d.device.deviceType, true);
  dv.setInt32(12, d.device.deviceId, true);
  dv.setInt32(16, d.ndim, true);
  dv.setUint8(20, d.dtype.code);
  dv.setUint8(21, d.dtype.bits);
  dv.setUint16(22, d.dtype.lanes, true);
  dv.setBigUint64(24, base + BigInt(DLTENSOR_BYTES), true);
  dv.setBigUint64(32, base + BigInt(DLTENSOR_BYTES + 8 * d.ndim), true);
  dv.setBigUint64(40, BigInt(d.byteOffset), true);
  for (let i = 0; i < d.ndim; i++) {
    dv.setBigInt64(DLTENSOR_BYTES + 8 * i, BigInt(d.shape[i]), true);
    dv.setBigInt64(DLTENSOR_BYTES + 8 * (d.ndim + i), BigInt(d.strides[i]), true);
  }
  return new Uint8Array(buf);
}
