// Arithmetic helpers of the Arm ARM pseudocode (shared/functions): AddWithCarry, ConditionHolds,
// DecodeBitMasks, ShiftReg, ExtendReg. Values are unsigned BigInts of the operation's width.

import { maskOf } from "../../core/bits.js";

export const widthOf = (sf: number): number => (sf ? 64 : 32);

/** Arm ARM J1.1.3 AddWithCarry: result and NZCV (N=8, Z=4, C=2, V=1). */
export function addWithCarry(x: bigint, y: bigint, carry: number, width: number): { result: bigint; nzcv: number } {
  const m = maskOf(width);
  const ux = x & m;
  const uy = y & m;
  const usum = ux + uy + BigInt(carry);
  const result = usum & m;
  const sign = 1n << BigInt(width - 1);
  const sx = ux & sign ? ux - (m + 1n) : ux;
  const sy = uy & sign ? uy - (m + 1n) : uy;
  const ssum = sx + sy + BigInt(carry);
  const sres = result & sign ? result - (m + 1n) : result;
  const n = result & sign ? 8 : 0;
  const z = result === 0n ? 4 : 0;
  const c = usum !== result ? 2 : 0;
  const v = ssum !== sres ? 1 : 0;
  return { result, nzcv: n | z | c | v };
}

/** NZ flags of a logical result, C = V = 0 (ANDS/BICS). */
export function logicFlags(result: bigint, width: number): number {
  return (result & (1n << BigInt(width - 1)) ? 8 : 0) | (result === 0n ? 4 : 0);
}

/** Arm ARM J1.2.3 ConditionHolds for a 4-bit condition code. */
export function conditionHolds(cond: number, nzcv: number): boolean {
  const n = (nzcv & 8) !== 0;
  const z = (nzcv & 4) !== 0;
  const c = (nzcv & 2) !== 0;
  const v = (nzcv & 1) !== 0;
  let r: boolean;
  switch (cond >> 1) {
    case 0: r = z; break;
    case 1: r = c; break;
    case 2: r = n; break;
    case 3: r = v; break;
    case 4: r = c && !z; break;
    case 5: r = n === v; break;
    case 6: r = n === v && !z; break;
    default: r = true;
  }
  return (cond & 1) === 1 && cond !== 15 ? !r : r;
}

export const COND_NAMES = ["eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al", "nv"];
/** Accepted synonyms (GNU as): hs = cs, lo = cc. */
export const COND_SYNONYMS: Record<string, number> = { hs: 2, lo: 3 };

function ror(x: bigint, r: number, width: number): bigint {
  const m = maskOf(width);
  if (r === 0) return x & m;
  return ((x >> BigInt(r)) | (x << BigInt(width - r))) & m;
}

function replicate(x: bigint, esize: number, width: number): bigint {
  let out = 0n;
  for (let i = 0; i < width; i += esize) out |= x << BigInt(i);
  return out & maskOf(width);
}

/** Arm ARM J1.1.3 DecodeBitMasks → { wmask, tmask } or undefined when reserved. */
export function decodeBitMasks(n: number, imms: number, immr: number, immediate: boolean, width: number): { wmask: bigint; tmask: bigint } | undefined {
  const combined = (n << 6) | (~imms & 0x3f);
  let len = -1;
  for (let i = 6; i >= 0; i--) if (combined & (1 << i)) { len = i; break; }
  if (len < 1) return undefined;
  if (width === 32 && n === 1) return undefined;
  const levels = (1 << len) - 1;
  if (immediate && (imms & levels) === levels) return undefined;
  const s = imms & levels;
  const r = immr & levels;
  const diff = (s - r) & levels;
  const esize = 1 << len;
  if (esize > width) return undefined;
  const welem = maskOf(s + 1);
  const telem = maskOf(diff + 1);
  return { wmask: replicate(ror(welem, r, esize), esize, width), tmask: replicate(telem, esize, width) };
}

/** The logical immediate N:immr:imms encodes, or undefined when reserved. */
export function bitmaskValue(n: number, immr: number, imms: number, width: number): bigint | undefined {
  return decodeBitMasks(n, imms, immr, true, width)?.wmask;
}

/** Encode a logical immediate; undefined when the value is not a replicated rotated run of ones. */
export function encodeBitmask(value: bigint, width: number): { n: number; immr: number; imms: number } | undefined {
  const m = maskOf(width);
  const v = value & m;
  if (v === 0n || v === m) return undefined;
  // smallest element size whose replication reproduces the value
  let esize = width;
  while (esize > 2) {
    const half = esize / 2;
    if (((v >> BigInt(half)) & maskOf(half)) === (v & maskOf(half)) && replicate(v & maskOf(half), half, width) === v) esize = half;
    else break;
  }
  const elem = v & maskOf(esize);
  // find rotation r such that ror(ones(s+1), r) == elem: rotate elem left until it is a low run of ones
  for (let r = 0; r < esize; r++) {
    const rotated = ror(elem, (esize - r) % esize, esize); // rol by r
    const ones = rotated + 1n;
    if ((ones & rotated) === 0n && rotated !== 0n) {
      const s = ones.toString(2).length - 2; // popcount - 1
      const imms = ((~(esize * 2 - 1) & 0x3f) | s) & 0x3f;
      return { n: esize === 64 ? 1 : 0, immr: r, imms };
    }
  }
  return undefined;
}

export const SHIFT_NAMES = ["lsl", "lsr", "asr", "ror"];

/** Arm ARM ShiftReg: shift type 0..3 by amount within width. */
export function shiftValue(x: bigint, type: number, amount: number, width: number): bigint {
  const m = maskOf(width);
  const v = x & m;
  const a = BigInt(amount);
  switch (type) {
    case 0: return (v << a) & m;
    case 1: return v >> a;
    case 2: {
      const signed = v & (1n << BigInt(width - 1)) ? v - (m + 1n) : v;
      return (signed >> a) & m;
    }
    default: return ror(v, amount % width, width);
  }
}

export const EXTEND_NAMES = ["uxtb", "uxth", "uxtw", "uxtx", "sxtb", "sxth", "sxtw", "sxtx"];

/** Arm ARM ExtendReg: extend option 0..7, then shift left; result within width. */
export function extendValue(x: bigint, option: number, shift: number, width: number): bigint {
  const len = 8 << (option & 3);
  let v = x & maskOf(len);
  if (option & 4 && v & (1n << BigInt(len - 1))) v -= 1n << BigInt(len);
  return (v << BigInt(shift)) & maskOf(width);
}

/** Sign-extend the low `width` bits of a field to a number. */
export function sfield(v: number, width: number): number {
  return v & (1 << (width - 1)) ? v - (1 << width) : v;
}
