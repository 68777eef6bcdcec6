// A minimal protobuf writer for hand-crafted OTLP requests in tests (exact
// 64-bit varints, any wire type, fields the SDK never sends).
export function cat(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}
export function varint(v: bigint | number): Buffer {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) b |= 0x80;
    out.push(b);
  } while (x !== 0n);
  return Buffer.from(out);
}
export const tag = (no: number, wire: number): Buffer => varint((no << 3) | wire);
export const len = (no: number, body: Uint8Array | string): Buffer => {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return cat(tag(no, 2), varint(b.length), b);
};
export const vint = (no: number, v: bigint | number): Buffer => cat(tag(no, 0), varint(v));
export const fixed64 = (no: number, v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return cat(tag(no, 1), b);
};
export const fixed32 = (no: number, v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return cat(tag(no, 5), b);
};
export const double = (no: number, v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return cat(tag(no, 1), b);
};
export const hex = (s: string): Buffer => Buffer.from(s, 'hex');
