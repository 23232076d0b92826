// Helpers the table files share: default operand views, register access for semantics, and
// the checks `build` functions use to reject operands that do not fit their fields.

import type { A64Env } from "../../env.js";
import { A64BuildError, type A64Fields, type A64Ops, type A64SpecDecl } from "../types.js";
import { maskOf } from "../../../core/bits.js";

export type Decl = A64SpecDecl;

/** Operand values = the fields themselves (as BigInts). */
export function fieldsAsOps(f: A64Fields): A64Ops {
  const o: A64Ops = {};
  for (const k in f) o[k] = BigInt(f[k]!);
  return o;
}

export function num(v: bigint | undefined, dflt = 0): number {
  return v === undefined ? dflt : Number(v);
}

/** An unsigned operand that must fit `width` bits. */
export function ufit(v: bigint | undefined, width: number, what: string, dflt = 0n): number {
  const x = v ?? dflt;
  if (x < 0n || x > maskOf(width)) throw new A64BuildError(`${what} ${fmt(x)} is out of range`, `the ${what} must be 0..${fmt(maskOf(width))}`);
  return Number(x);
}

/** A signed operand scaled by 2^scale that must fit `width` bits after scaling; returns the field. */
export function sfit(v: bigint | undefined, width: number, scale: number, what: string): number {
  const x = v ?? 0n;
  const unit = 1n << BigInt(scale);
  if (x % unit !== 0n) throw new A64BuildError(`${what} ${x} is not a multiple of ${unit}`);
  const q = x / unit;
  const lim = 1n << BigInt(width - 1);
  if (q < -lim || q >= lim) throw new A64BuildError(`${what} ${x} is out of range`, `the ${what} must be ${-lim * unit}..${(lim - 1n) * unit}${scale ? ` in steps of ${unit}` : ""}`);
  return Number(q & maskOf(width));
}

export function fmt(v: bigint): string {
  return v < 0n ? "-0x" + (-v).toString(16) : "0x" + v.toString(16);
}

export function sext(v: number, width: number): bigint {
  const x = BigInt(v) & maskOf(width);
  return x & (1n << BigInt(width - 1)) ? x - (1n << BigInt(width)) : x;
}

/** Register read: `zr` form (31 = zero). */
export function rX(env: A64Env, n: number, sf: number | boolean): bigint {
  return env.state.readX(n, sf === 1 || sf === true);
}
/** Register read: `sp` form (31 = current SP). */
export function rSP(env: A64Env, n: number, sf: number | boolean): bigint {
  return env.state.readX(n, sf === 1 || sf === true, true);
}
export function wX(env: A64Env, n: number, v: bigint, sf: number | boolean): void {
  env.state.writeX(n, v, sf === 1 || sf === true);
}
export function wSP(env: A64Env, n: number, v: bigint, sf: number | boolean): void {
  env.state.writeX(n, v, sf === 1 || sf === true, true);
}

/** target - pc as a signed 64-bit difference (addresses wrap modulo 2^64). */
export function pcDiff(target: bigint, pc: bigint): bigint {
  const d = (target - pc) & maskOf(64);
  return d >= 1n << 63n ? d - (1n << 64n) : d;
}
