// Helpers every semantic function uses: register and memory operands, effective addresses,
// RFLAGS bits (SDM Vol. 1 §3.4.3), the stack. Semantics read memory and write memory first and
// commit registers last, so a faulting access (thrown by env.read/env.write) changes nothing.

import type { X86Env, X86Seg, X86State } from "../../env.js";
import type { X86Insn, X86Operand } from "../types.js";
import { VECTOR } from "../../vectors.js";
import { X86Regs } from "../../regs.js";
import { join64 } from "../../../core/bits.js";

export type Sem = (env: X86Env, insn: X86Insn) => void;
export type MemOperand = Extract<X86Operand, { kind: "mem" }>;

/** RFLAGS bit positions, SDM Vol. 1 Figure 3-8. */
export const CF = 1n << 0n;
export const PF = 1n << 2n;
export const AF = 1n << 4n;
export const ZF = 1n << 6n;
export const SF = 1n << 7n;
export const TF = 1n << 8n;
export const IF = 1n << 9n;
export const DF = 1n << 10n;
export const OF = 1n << 11n;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

// The masks of 1-16 byte operands, made once (every BigInt semantic asks for them).
const MASKS = Array.from({ length: 17 }, (_, b) => (1n << BigInt(b * 8)) - 1n);
const SIGN_BITS = Array.from({ length: 17 }, (_, b) => (b === 0 ? 0n : 1n << BigInt(b * 8 - 1)));
export const mask = (bytes: number): bigint => MASKS[bytes] ?? (1n << BigInt(bytes * 8)) - 1n;
export const signBit = (bytes: number): bigint => SIGN_BITS[bytes] ?? 1n << BigInt(bytes * 8 - 1);

export function toSigned(v: bigint, bytes: number): bigint {
  const m = v & mask(bytes);
  return m & signBit(bytes) ? m - (1n << BigInt(bytes * 8)) : m;
}

export function readGpr(s: X86State, reg: number, size: number, high8?: boolean): bigint {
  if (s instanceof X86Regs) {
    // The register file's halves: one BigInt made, not the 64-bit value and then its mask.
    const lo = s.r[reg]!;
    if (high8) return BigInt((lo >> 8) & 0xff);
    if (size === 8) return join64(lo, s.r[reg + 16]!);
    return BigInt(size === 4 ? lo >>> 0 : size === 2 ? lo & 0xffff : lo & 0xff);
  }
  const v = s.gpr[reg]!;
  if (high8) return (v >> 8n) & 0xffn;
  return size === 8 ? v : v & mask(size);
}

/** Write a general register: 8/16-bit writes merge, 32-bit writes zero-extend (SDM Vol. 1 §3.4.1.1). */
export function writeGpr(s: X86State, reg: number, size: number, value: bigint, high8?: boolean): void {
  const old = s.gpr[reg]!;
  if (high8) s.gpr[reg] = (old & ~0xff00n) | ((value & 0xffn) << 8n);
  else if (size === 1) s.gpr[reg] = (old & ~0xffn) | (value & 0xffn);
  else if (size === 2) s.gpr[reg] = (old & ~0xffffn) | (value & 0xffffn);
  else s.gpr[reg] = value & mask(size);
}

/** Offset (within the segment) a memory operand names, wrapped to the address size. */
export function effectiveAddress(s: X86State, insn: X86Insn, m: MemOperand): bigint {
  let ea = m.disp;
  if (m.ripRelative) ea += s.rip + BigInt(insn.length);
  if (m.base !== null) ea += s.gpr[m.base]!;
  if (m.index !== null) ea += s.gpr[m.index]! * BigInt(m.scale);
  return ea & mask(m.addrSize);
}

/** Linear address of a memory operand (for invlpg): segment base + offset; 64-bit mode ignores bases but FS/GS. */
export function linearAddress(s: X86State, insn: X86Insn, m: MemOperand): bigint {
  const ea = effectiveAddress(s, insn, m);
  if (s.mode === "long64" && m.seg !== "fs" && m.seg !== "gs") return ea;
  return (s.seg[m.seg].base + ea) & mask(8);
}

export function readMem(env: X86Env, seg: X86Seg, offset: bigint, size: number): bigint {
  return env.read(seg, offset, { size: size as 1 | 2 | 4 | 8, write: false });
}

export function writeMem(env: X86Env, seg: X86Seg, offset: bigint, size: number, value: bigint): void {
  env.write(seg, offset, value & mask(size), { size: size as 1 | 2 | 4 | 8, write: true });
}

/** Value of a register, immediate or memory operand (size = the operand's own size). */
export function readOperand(env: X86Env, insn: X86Insn, op: X86Operand): bigint {
  switch (op.kind) {
    case "reg":
      return readGpr(env.state, op.reg, op.size, op.high8);
    case "imm":
      return op.value;
    case "mem":
      return readMem(env, op.seg, effectiveAddress(env.state, insn, op), op.size);
    case "sreg":
      return BigInt(env.state.seg[op.seg].selector);
    default:
      return env.raise(VECTOR.UD);
  }
}

/** Byte size of an operand (immediates: their decoded size). */
export function sizeOf(op: X86Operand): number {
  return op.kind === "reg" || op.kind === "imm" || op.kind === "mem" ? op.size : 2;
}

export function writeOperand(env: X86Env, insn: X86Insn, op: X86Operand, value: bigint): void {
  if (op.kind === "reg") writeGpr(env.state, op.reg, op.size, value, op.high8);
  else if (op.kind === "mem") writeMem(env, op.seg, effectiveAddress(env.state, insn, op), op.size, value);
  else env.raise(VECTOR.UD);
}

/** A memory destination is written now; a register destination is returned for a later commit. */
export function storeOrDefer(env: X86Env, insn: X86Insn, op: X86Operand, value: bigint): () => void {
  if (op.kind === "mem") {
    writeOperand(env, insn, op, value);
    return () => {};
  }
  return () => writeOperand(env, insn, op, value);
}

export function parity(v: bigint): boolean {
  let b = Number(v & 0xffn);
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  return (b & 1) === 0;
}

/** SF, ZF, PF of a result of `size` bytes. */
export function szpFlags(r: bigint, size: number): bigint {
  const v = r & mask(size);
  let f = 0n;
  if (v === 0n) f |= ZF;
  if (v & signBit(size)) f |= SF;
  if (parity(v)) f |= PF;
  return f;
}

/** Flags of a + b + carryIn (SDM ADD/ADC). */
export function addFlags(a: bigint, b: bigint, carryIn: bigint, size: number): { result: bigint; flags: bigint } {
  const full = a + b + carryIn;
  const r = full & mask(size);
  let f = szpFlags(r, size);
  if (full > mask(size)) f |= CF;
  if (((a ^ r) & (b ^ r) & signBit(size)) !== 0n) f |= OF;
  if (((a ^ b ^ r) & 0x10n) !== 0n) f |= AF;
  return { result: r, flags: f };
}

/** Flags of a - b - borrowIn (SDM SUB/SBB/CMP/NEG). */
export function subFlags(a: bigint, b: bigint, borrowIn: bigint, size: number): { result: bigint; flags: bigint } {
  const r = (a - b - borrowIn) & mask(size);
  let f = szpFlags(r, size);
  if (a < b + borrowIn) f |= CF;
  if (((a ^ b) & (a ^ r) & signBit(size)) !== 0n) f |= OF;
  if (((a ^ b ^ r) & 0x10n) !== 0n) f |= AF;
  return { result: r, flags: f };
}

/** Replace the flags in `which` with `values`. */
export function setFlags(s: X86State, which: bigint, values: bigint): void {
  s.rflags = (s.rflags & ~which) | (values & which) | 2n;
}

export function flag(s: X86State, f: bigint): boolean {
  return (s.rflags & f) !== 0n;
}

/** Condition codes, SDM Vol. 1 Table B-1. */
export function condition(s: X86State, cc: number): boolean {
  const cf = flag(s, CF), zf = flag(s, ZF), sf = flag(s, SF), of = flag(s, OF), pf = flag(s, PF);
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = of; break;
    case 1: r = cf; break;
    case 2: r = zf; break;
    case 3: r = cf || zf; break;
    case 4: r = sf; break;
    case 5: r = pf; break;
    case 6: r = sf !== of; break;
    default: r = zf || sf !== of; break;
  }
  return cc & 1 ? !r : r;
}

/** Stack pointer width: 64-bit mode uses rsp; flat 32-bit code esp; real mode sp. */
export function stackSize(s: X86State): number {
  return s.mode === "long64" ? 8 : s.mode === "real" || s.mode === "protected16" ? 2 : 4;
}

/** Current privilege level: CS.RPL outside real mode. */
export function cpl(s: X86State): number {
  return s.mode === "real" ? 0 : s.seg.cs.selector & 3;
}

/** Push several values in order (memory first), then commit rsp. */
export function push(env: X86Env, size: number, ...values: bigint[]): void {
  const s = env.state;
  const ss = stackSize(s);
  let sp = s.gpr[4]! & mask(ss);
  for (const v of values) {
    sp = (sp - BigInt(size)) & mask(ss);
    writeMem(env, "ss", sp, size, v);
  }
  writeGpr(s, 4, ss, sp);
}

/** Read `count` stack slots of `size` bytes; returns the values and a commit that moves rsp. */
export function peekPop(env: X86Env, size: number, count: number, extra = 0n): { values: bigint[]; commit: () => void } {
  const s = env.state;
  const ss = stackSize(s);
  let sp = s.gpr[4]! & mask(ss);
  const values: bigint[] = [];
  for (let i = 0; i < count; i++) {
    values.push(readMem(env, "ss", sp, size));
    sp = (sp + BigInt(size)) & mask(ss);
  }
  sp = (sp + extra) & mask(ss);
  return { values, commit: () => writeGpr(s, 4, ss, sp) };
}

/** Width of the instruction pointer after a branch with this operand size. */
export function branchTarget(insn: X86Insn, target: bigint): bigint {
  if (insn.mode === "long64" && insn.operandSize !== 2) return target & mask(8);
  return target & mask(insn.operandSize === 2 ? 2 : 4);
}
