// Constant immediates as GNU as reads them (binutils gas/config/tc-i386.c, optimize_imm and the
// "shortened" warning of offset_in_range; each rule checked against GNU as 2.40 by
// test/runtime/x86/isa/gnu-agree.test.ts): which value an immediate field gets, or why the
// operand form does not fit.

import type { OperandForm } from "../types.js";

/** Does `v` fit `size` bytes: "s" signed, "us" signed or unsigned, "any" any 64-bit value. */
export function fits(v: bigint, size: number, range: "s" | "us" | "any"): boolean {
  if (range === "any" || size >= 8) return v >= -(1n << 63n) && v < 1n << 64n;
  const bitsN = BigInt(size * 8);
  const lo = -(1n << (bitsN - 1n));
  const hi = range === "s" ? (1n << (bitsN - 1n)) - 1n : (1n << bitsN) - 1n;
  return v >= lo && v <= hi;
}

/** Write `value` little-endian into `size` bytes at `at` (truncating). */
export function writeLE(out: number[] | Uint8Array, at: number, size: number, value: bigint): void {
  let x = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    out[at + i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

/**
 * A constant immediate as GNU as sees it for an operand of `opSize` bytes (optimize_imm): a value
 * whose bits above the operand's 32/16/8 are all zero is sign-extended from there, so $0xffffffff
 * on a 32-bit operation is -1 (and fits an imm8) while $0x100000000 is not.
 */
export function gnuImmediate(c: bigint, opSize: number): bigint {
  let x = BigInt.asIntN(64, c);
  if (opSize <= 4 && (x & ~0xffffffffn) === 0n) x = BigInt.asIntN(32, x);
  if (opSize <= 2 && (x & ~0xffffn) === 0n) x = BigInt.asIntN(16, x);
  if (opSize === 1 && (x & ~0xffn) === 0n) x = BigInt.asIntN(8, x);
  return x;
}

const V_SIZED = new Set<OperandForm>(["Ev", "Gv", "Zv", "rAX", "eAX", "Rv", "Iz", "Iv", "Xv", "Yv", "Ov", "Mp", "Ap", "Ms"]);

export interface ImmediateContext {
  bits: 16 | 32 | 64;
  /** No suffix and no register gave the size: GNU as matches the value's own width. */
  sizeGuessed: boolean;
  /** A size suffix was written. */
  suffixGiven: boolean;
}

/**
 * The value an immediate of form `f` takes in an instruction with operand forms `forms` and
 * operand size `v` (bytes), from its constant `c` (undefined: not known yet, a fixup checks it);
 * or the reason it does not fit this form.
 */
export function immediateValue(c: bigint | undefined, f: OperandForm, forms: OperandForm[], v: number, ctx: ImmediateContext): { value: bigint | undefined } | string {
  // outside 64-bit code GNU as (a 32-bit target) computes in 32 bits: $0x100000000 is 0
  if (c !== undefined && ctx.bits !== 64) c = BigInt.asIntN(32, c);
  // The operand size the immediate belongs to: an 8-bit field of a wider operation (shift
  // counts, bt) is checked against that operation, not shortened.
  const byteField = f === "Ib" && forms.some((g) => g === "Eb" || g === "Gb" || g === "AL" || g === "Zb");
  const wideIb = f === "Ib" && !byteField && forms.some((g) => V_SIZED.has(g));
  const opSize = f === "Iw" ? 2 : f === "Ib" ? (wideIb ? v : 1) : v;
  if (c === undefined) return f === "Ibs" ? "immediate not known yet" : { value: undefined };
  const n = gnuImmediate(c, ctx.sizeGuessed ? 8 : opSize);
  // the value as written (16-bit code reads it at 16 bits: int $0xffff is int $-1)
  const raw = ctx.bits === 16 ? gnuImmediate(c, 2) : BigInt.asIntN(64, c);
  if (f === "Ibs") {
    if (n < -128n || n > 127n) return "immediate does not fit a signed byte";
    c = n;
  } else if (wideIb) {
    if (n < -128n || n > 255n) return "immediate out of range";
    c = n;
  } else if (f === "Iw" && !((ctx.suffixGiven || ctx.bits === 16) && v === 2)) {
    // a 16-bit immediate is shortened only at a 16-bit operand size (retw $0x12345); under another
    // suffix it is read at that size (lretl $0xffffffff is -1); with none, as written
    const w = ctx.suffixGiven ? gnuImmediate(c, v) : raw;
    if (!fits(w, 2, "us")) return "immediate out of range";
    c = w;
  } else if (f === "Ib" && !byteField) {
    // an 8-bit field of its own (int $n): -128..255
    if (!fits(raw, 1, "us")) return "immediate out of range";
    c = raw;
  } else if (ctx.sizeGuessed) {
    // the size was only guessed: nothing is shortened
    if (!fits(raw, Math.min(opSize, 4), "us")) return "immediate out of range";
    c = raw;
  } else if (opSize < 8 && fits(c, 8, "us")) {
    // a constant too wide for an 8/16/32-bit operand is shortened to it (GNU as warns "0x1ff shortened to 0xff")
    c = BigInt.asUintN(opSize * 8, n);
  }
  if (!fits(c, opSize, "us")) return "immediate out of range";
  // a 64-bit operation's imm32 is sign-extended, computed in 64-bit two's complement ($0xffffffffffffffff is -1)
  if (f === "Iz" && v === 8 && !fits(BigInt.asIntN(64, c), 4, "s")) return "immediate does not fit a sign-extended 32-bit field";
  return { value: c };
}
