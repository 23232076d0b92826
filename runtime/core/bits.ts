// Bit helpers shared by both architectures. 64-bit register values are BigInt;
// physical addresses (below 2^52 on both architectures) are plain numbers.

export const MASK64 = (1n << 64n) - 1n;
export const MASK32 = 0xffff_ffffn;

/** Two 32-bit halves (signed or unsigned numbers) → the unsigned 64-bit BigInt. */
export function join64(lo: number, hi: number): bigint {
  if (hi === 0) return BigInt(lo >>> 0); // one BigInt, not four (most register values)
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** A 64-bit value (taken modulo 2^64) → its unsigned 32-bit halves [lo, hi]. */
export function split64(v: bigint): [number, number] {
  const x = BigInt.asUintN(64, v);
  return [Number(x & MASK32), Number(x >> 32n)];
}

/** Mask of the low `width` bits (width 0..64). */
export function maskOf(width: number): bigint {
  return width >= 64 ? MASK64 : (1n << BigInt(width)) - 1n;
}

/** Truncate to `width` bits (unsigned). */
export function trunc(value: bigint, width: number): bigint {
  return value & maskOf(width);
}

/** Interpret the low `width` bits as a two's-complement signed value. */
export function signExtend(value: bigint, width: number): bigint {
  const v = value & maskOf(width);
  const sign = 1n << BigInt(width - 1);
  return v & sign ? v - (1n << BigInt(width)) : v;
}

/** Sign-extend to `width` bits and return it as an unsigned 64-bit value. */
export function sext64(value: bigint, width: number): bigint {
  return signExtend(value, width) & MASK64;
}

/** Extract bits [lsb, lsb+width) of a 32-bit number (for instruction words). */
export function field(word: number, lsb: number, width: number): number {
  return width >= 32 ? word >>> 0 : (word >>> lsb) & ((1 << width) - 1);
}

/** Extract bits [lsb, lsb+width) of a bigint. */
export function bfield(value: bigint, lsb: number, width: number): bigint {
  return (value >> BigInt(lsb)) & maskOf(width);
}

/** Bit `n` of a bigint as a boolean. */
export function bit(value: bigint, n: number): boolean {
  return ((value >> BigInt(n)) & 1n) === 1n;
}

/** Set or clear bit `n`. */
export function withBit(value: bigint, n: number, on: boolean): bigint {
  const m = 1n << BigInt(n);
  return on ? value | m : value & ~m;
}

/** Whether [aBase, aBase + aSize) and [bBase, bBase + bSize) share an address (RAM, MMIO, port ranges). */
export function rangesOverlap(aBase: number, aSize: number, bBase: number, bSize: number): boolean {
  return aBase < bBase + bSize && bBase < aBase + aSize;
}

/** Hex with 0x prefix and no padding (`%#lx`). */
export function hex(value: bigint | number): string {
  return "0x" + BigInt(value).toString(16);
}

/** Hex padded to `digits` hex digits, with 0x prefix. */
export function hexPad(value: bigint | number, digits: number): string {
  return "0x" + BigInt(value).toString(16).padStart(digits, "0");
}

/** Number from a bigint that is known to fit in 53 bits (addresses); throws otherwise. */
export function toAddr(value: bigint): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`address ${hex(value)} does not fit a physical address`);
  }
  return Number(value);
}
