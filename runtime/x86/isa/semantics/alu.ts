// Integer arithmetic on the BigInt semantics, after the SDM Vol. 2 pages of each instruction:
// ROL/ROR/RCL/RCR, MUL/IMUL, DIV/IDIV (128-bit products and dividends). ADD..CMP, TEST, INC/DEC,
// NEG/NOT, SHL/SHR/SAR, SETcc/CMOVcc, CBW/CWD are code templates in fast.ts. Flags the SDM calls
// undefined follow QEMU's choices (SF/ZF/PF from the low half after MUL).

import type { X86Env } from "../../env.js";
import type { X86Insn } from "../types.js";
import {
  AF, ARITH_FLAGS, CF, OF, flag, mask, readGpr, readOperand, setFlags, signBit,
  sizeOf, storeOrDefer, szpFlags, toSigned, writeGpr, writeOperand, type Sem,
} from "./core.js";
import { VECTOR } from "../../vectors.js";

/** Rotates by ModRM.reg: 0 rol, 1 ror, 2 rcl, 3 rcr (SHL/SHR/SAR are templates in fast.ts). */
const shift: Sem = (env, insn) => {
  const s = env.state;
  const [dst, cnt] = insn.operands as [X86Insn["operands"][0], X86Insn["operands"][0]];
  const size = sizeOf(dst);
  const bits = BigInt(size * 8);
  const m = mask(size);
  const a = readOperand(env, insn, dst);
  const count = readOperand(env, insn, cnt) & (size === 8 ? 0x3fn : 0x1fn);
  if (count === 0n) {
    // The flags are not affected (SDM Vol. 2 RCL/RCR/ROL/ROR: "If the masked count is 0, the flags
    // are not affected"), but a 32-bit register destination is still written, which zero-extends
    // it into bits 63:32 (SDM Vol. 1 3.4.1.1), as hardware and QEMU do.
    if (size === 4 && dst.kind === "reg" && s.mode === "long64") writeOperand(env, insn, dst, a);
    return;
  }
  const msb = (v: bigint) => (v & signBit(size)) !== 0n;
  const cfIn = flag(s, CF) ? 1n : 0n;
  let r: bigint;
  let flags: bigint;
  const which = CF | OF;
  switch (insn.spec.arg) {
    case 0: { // rol
      const n = count % bits;
      r = ((a << n) | (a >> (bits - n))) & m;
      const cf = (r & 1n) !== 0n;
      flags = (cf ? CF : 0n) | (msb(r) !== cf ? OF : 0n);
      break;
    }
    case 1: { // ror
      const n = count % bits;
      r = ((a >> n) | (a << (bits - n))) & m;
      const cf = msb(r);
      flags = (cf ? CF : 0n) | (msb(r) !== ((r >> (bits - 2n)) & 1n) > 0n ? OF : 0n);
      break;
    }
    case 2: { // rcl: rotate the (size*8+1)-bit value CF:a
      const n = count % (bits + 1n);
      const wide = (cfIn << bits) | a;
      const rot = ((wide << n) | (wide >> (bits + 1n - n))) & ((1n << (bits + 1n)) - 1n);
      r = rot & m;
      const cf = (rot >> bits) & 1n;
      flags = (cf ? CF : 0n) | ((msb(r) ? 1n : 0n) !== cf ? OF : 0n);
      break;
    }
    case 3: { // rcr: OF = MSB(dest) XOR CF before the rotation
      const n = count % (bits + 1n);
      const wide = (cfIn << bits) | a;
      const rot = ((wide >> n) | (wide << (bits + 1n - n))) & ((1n << (bits + 1n)) - 1n);
      r = rot & m;
      const cf = (rot >> bits) & 1n;
      flags = (cf ? CF : 0n) | ((msb(a) ? 1n : 0n) !== cfIn ? OF : 0n);
      break;
    }
    default:
      return env.raise(VECTOR.UD); // shl/shr/sar run as templates (fast.ts)
  }
  storeOrDefer(env, insn, dst, r)();
  setFlags(s, which, flags & ~AF);
};

/** Split a double-width product/dividend in rDX:rAX (or AX for bytes). */
function accPair(env: X86Env, size: number): bigint {
  const s = env.state;
  if (size === 1) return readGpr(s, 0, 2);
  return (readGpr(s, 2, size) << BigInt(size * 8)) | readGpr(s, 0, size);
}

function writeAccPair(env: X86Env, size: number, lo: bigint, hi: bigint): void {
  const s = env.state;
  if (size === 1) writeGpr(s, 0, 2, ((hi & 0xffn) << 8n) | (lo & 0xffn));
  else {
    writeGpr(s, 0, size, lo);
    writeGpr(s, 2, size, hi);
  }
}

const mul: Sem = (env, insn) => {
  const src = insn.operands[0]!;
  const size = sizeOf(src);
  const b = readOperand(env, insn, src);
  const a = readGpr(env.state, 0, size);
  const p = a * b;
  const lo = p & mask(size);
  const hi = p >> BigInt(size * 8);
  writeAccPair(env, size, lo, hi);
  setFlags(env.state, ARITH_FLAGS, (hi !== 0n ? CF | OF : 0n) | szpFlags(lo, size));
};

/** One-operand IMUL: rDX:rAX = rAX * src (signed). */
const imul1: Sem = (env, insn) => {
  const src = insn.operands[0]!;
  const size = sizeOf(src);
  const b = toSigned(readOperand(env, insn, src), size);
  const a = toSigned(readGpr(env.state, 0, size), size);
  const p = a * b;
  const lo = p & mask(size);
  const hi = (p >> BigInt(size * 8)) & mask(size);
  writeAccPair(env, size, lo, hi);
  setFlags(env.state, ARITH_FLAGS, (toSigned(lo, size) !== p ? CF | OF : 0n) | szpFlags(lo, size));
};

/** Two- and three-operand IMUL: dest = src1 * src2, truncated. */
const imul: Sem = (env, insn) => {
  const ops = insn.operands;
  const dst = ops[0]!;
  const size = sizeOf(dst);
  const a = toSigned(readOperand(env, insn, ops.length === 3 ? ops[1]! : dst), size);
  const b = toSigned(readOperand(env, insn, ops.length === 3 ? ops[2]! : ops[1]!), size);
  const p = a * b;
  const lo = p & mask(size);
  writeOperand(env, insn, dst, lo);
  setFlags(env.state, ARITH_FLAGS, (toSigned(lo, size) !== p ? CF | OF : 0n) | szpFlags(lo, size));
};

const div: Sem = (env, insn) => {
  const src = insn.operands[0]!;
  const size = sizeOf(src);
  const d = readOperand(env, insn, src);
  if (d === 0n) env.raise(VECTOR.DE);
  const n = accPair(env, size);
  const q = n / d;
  if (q > mask(size)) env.raise(VECTOR.DE);
  writeAccPair(env, size, q, n % d);
};

const idiv: Sem = (env, insn) => {
  const src = insn.operands[0]!;
  const size = sizeOf(src);
  const d = toSigned(readOperand(env, insn, src), size);
  if (d === 0n) env.raise(VECTOR.DE);
  const n = toSigned(accPair(env, size), size * 2);
  const q = n / d; // BigInt division truncates toward zero, as IDIV does
  if (q > mask(size) >> 1n || q < -(signBit(size))) env.raise(VECTOR.DE);
  writeAccPair(env, size, q & mask(size), (n % d) & mask(size));
};

export const ALU_SEMANTICS: Record<string, Sem> = {
  shift, mul, imul1, imul, div, idiv,
};
