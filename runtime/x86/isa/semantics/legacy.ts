// Instructions of the 16/32-bit legacy set (SDM Vol. 2 pages of each): double-precision shifts
// SHLD/SHRD, PUSHA/POPA, the BCD adjustments DAA/DAS/AAA/AAS/AAM/AAD. Undefined flags are left
// unchanged unless the SDM page gives a value.

import { VECTOR } from "../../vectors.js";
import {
  AF, CF, OF, PF, SF, ZF, flag, mask, peekPop, push, readGpr, readOperand, setFlags, signBit, sizeOf, szpFlags, writeGpr,
  writeOperand, type Sem,
} from "./core.js";

/** SHLD (arg 0) / SHRD (arg 1) dst, src, count: count mod 32 (mod 64 with 64-bit operands); 0 changes nothing. */
const shld: Sem = (env, insn) => {
  const [dst, src, cnt] = insn.operands;
  const size = sizeOf(dst!);
  const bits = BigInt(size * 8);
  const count = readOperand(env, insn, cnt!) & (size === 8 ? 63n : 31n);
  if (count === 0n) return;
  const a = readOperand(env, insn, dst!);
  const b = readGpr(env.state, (src as { reg: number }).reg, size);
  // A count above the operand width (16-bit operands) is undefined; hardware shifts the 32-bit
  // concatenation as for count mod 32, which the wide value below reproduces.
  let r: bigint, cf: bigint;
  if (insn.spec.arg === 0) {
    const wide = (a << bits) | b;
    const shifted = wide << count;
    r = (shifted >> bits) & mask(size);
    cf = (wide >> (bits * 2n - count)) & 1n;
  } else {
    const wide = (b << bits) | a;
    r = (wide >> count) & mask(size);
    cf = (wide >> (count - 1n)) & 1n;
  }
  writeOperand(env, insn, dst!, r);
  const of = ((a ^ r) & signBit(size)) !== 0n ? OF : 0n; // defined for count 1: the sign changed
  setFlags(env.state, CF | OF | SF | ZF | PF, (cf ? CF : 0n) | of | szpFlags(r, size));
};

/** PUSHA/PUSHAD: AX, CX, DX, BX, the original SP, BP, SI, DI. */
const pusha: Sem = (env, insn) => {
  const osz = insn.operandSize;
  const g = [0, 1, 2, 3, 4, 5, 6, 7].map((r) => readGpr(env.state, r, osz));
  push(env, osz, ...g);
};

/** POPA/POPAD: DI, SI, BP, (SP skipped), BX, DX, CX, AX. */
const popa: Sem = (env, insn) => {
  const osz = insn.operandSize;
  const { values, commit } = peekPop(env, osz, 8);
  commit();
  [7, 6, 5, 4, 3, 2, 1, 0].forEach((r, i) => {
    if (r !== 4) writeGpr(env.state, r, osz, values[i]!);
  });
};

/** DAA (arg 0) / DAS (arg 1): the SDM pseudocode; SF, ZF, PF from AL, OF undefined (unchanged). */
const daa: Sem = (env, insn) => {
  const s = env.state;
  const sub = insn.spec.arg === 1;
  const oldAl = readGpr(s, 0, 1);
  const oldCf = flag(s, CF);
  let al = oldAl, cf = false, af = false;
  if ((al & 0xfn) > 9n || flag(s, AF)) {
    const next = sub ? al - 6n : al + 6n;
    cf = oldCf || next < 0n || next > 0xffn;
    al = next & 0xffn;
    af = true;
  }
  if (oldAl > 0x99n || oldCf) {
    al = (sub ? al - 0x60n : al + 0x60n) & 0xffn;
    cf = true;
  } else if (!sub) cf = false;
  writeGpr(s, 0, 1, al);
  setFlags(s, CF | AF | SF | ZF | PF, (cf ? CF : 0n) | (af ? AF : 0n) | szpFlags(al, 1));
};

/** AAA (arg 0) / AAS (arg 1): adjust AL after an unpacked-BCD add/subtract, carrying into AH. */
const aaa: Sem = (env, insn) => {
  const s = env.state;
  let ax = readGpr(s, 0, 2);
  const adjust = (ax & 0xfn) > 9n || flag(s, AF);
  if (adjust) ax = insn.spec.arg === 0 ? ax + 0x106n : ax - 0x106n;
  writeGpr(s, 0, 2, ax & 0xff0fn);
  setFlags(s, CF | AF, adjust ? CF | AF : 0n);
};

/** AAM imm8: AH = AL / imm8, AL = AL mod imm8 (#DE for 0); AAD imm8: AL = AL + AH × imm8, AH = 0. */
const aam: Sem = (env, insn) => {
  const s = env.state;
  const base = readOperand(env, insn, insn.operands[0]!) & 0xffn;
  const al = readGpr(s, 0, 1);
  let r: bigint;
  if (insn.spec.arg === 0) {
    if (base === 0n) return env.raise(VECTOR.DE);
    r = al % base;
    writeGpr(s, 0, 2, ((al / base) << 8n) | r);
  } else {
    r = (al + readGpr(s, 0, 1, true) * base) & 0xffn;
    writeGpr(s, 0, 2, r);
  }
  setFlags(s, SF | ZF | PF, szpFlags(r, 1));
};

export const LEGACY_SEMANTICS: Record<string, Sem> = { shld, pusha, popa, daa, aaa, aam };
