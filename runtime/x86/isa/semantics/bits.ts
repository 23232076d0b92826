// Bit tests and scans, BSWAP, XADD, CMPXCHG, LAHF/SAHF (SDM Vol. 2 pages of each). Undefined flags
// (SF/ZF/AF/PF after BT*, all but ZF after BSF/BSR) are left unchanged.

import {
  ARITH_FLAGS, CF, ZF, addFlags, effectiveAddress, mask, readGpr, readMem, readOperand, setFlags, sizeOf, subFlags,
  toSigned, writeGpr, writeMem, writeOperand, type Sem,
} from "./core.js";

/** BT (arg 0), BTS (1), BTR (2), BTC (3): a register bit offset on memory may address beyond the operand. */
const bt: Sem = (env, insn) => {
  const [dst, src] = insn.operands;
  const size = sizeOf(dst!);
  const bits = BigInt(size * 8);
  let offset = readOperand(env, insn, src!);
  let seg = dst!.kind === "mem" ? dst!.seg : "ds";
  let ea = 0n;
  if (dst!.kind === "mem") {
    ea = effectiveAddress(env.state, insn, dst!);
    if (src!.kind === "reg") {
      const signed = toSigned(offset, size);
      const unit = signed >= 0n ? signed / bits : -((-signed + bits - 1n) / bits);
      ea = (ea + unit * BigInt(size)) & mask(dst!.addrSize);
      offset = signed - unit * bits;
    }
    seg = dst!.seg;
  }
  const bit = offset & (bits - 1n);
  const value = dst!.kind === "mem" ? readMem(env, seg, ea, size) : readOperand(env, insn, dst!);
  const set = ((value >> bit) & 1n) === 1n;
  const op = insn.spec.arg!;
  if (op !== 0) {
    const m = 1n << bit;
    const next = op === 1 ? value | m : op === 2 ? value & ~m : value ^ m;
    if (dst!.kind === "mem") writeMem(env, seg, ea, size, next);
    else writeOperand(env, insn, dst!, next);
  }
  setFlags(env.state, CF, set ? CF : 0n);
};

/** BSF (arg 0) / BSR (1): a zero source sets ZF and leaves the destination unchanged. */
const bsf: Sem = (env, insn) => {
  const [dst, src] = insn.operands;
  const v = readOperand(env, insn, src!);
  if (v === 0n) return setFlags(env.state, ZF, ZF);
  let index = 0n;
  if (insn.spec.arg === 0) while (((v >> index) & 1n) === 0n) index++;
  else {
    index = BigInt(sizeOf(src!) * 8 - 1);
    while (((v >> index) & 1n) === 0n) index--;
  }
  writeOperand(env, insn, dst!, index);
  setFlags(env.state, ZF, 0n);
};

const bswap: Sem = (env, insn) => {
  const op = insn.operands[0]!;
  if (op.kind !== "reg") return;
  const v = readGpr(env.state, op.reg, op.size);
  let r = 0n;
  for (let i = 0; i < op.size; i++) r |= ((v >> BigInt(8 * i)) & 0xffn) << BigInt(8 * (op.size - 1 - i));
  writeGpr(env.state, op.reg, op.size, op.size === 2 ? 0n : r); // 16-bit BSWAP is undefined; hardware gives 0
};

const xadd: Sem = (env, insn) => {
  const [dst, src] = insn.operands;
  const size = sizeOf(dst!);
  const a = readOperand(env, insn, dst!);
  const b = readOperand(env, insn, src!);
  const r = addFlags(a, b, 0n, size);
  writeOperand(env, insn, dst!, r.result);
  // xadd %r, %r writes the sum only; %bl and %bh are different registers with the same number.
  if (!(src!.kind === "reg" && dst!.kind === "reg" && src!.reg === dst!.reg && !!src!.high8 === !!dst!.high8)) writeOperand(env, insn, src!, a);
  setFlags(env.state, ARITH_FLAGS, r.flags);
};

/** CMPXCHG: the destination is written in both cases (with its old value on a mismatch), as on hardware. */
const cmpxchg: Sem = (env, insn) => {
  const [dst, src] = insn.operands;
  const size = sizeOf(dst!);
  const acc = readGpr(env.state, 0, size);
  const d = readOperand(env, insn, dst!);
  const r = subFlags(acc, d, 0n, size);
  if (acc === d) writeOperand(env, insn, dst!, readOperand(env, insn, src!));
  else {
    if (dst!.kind === "mem") writeOperand(env, insn, dst!, d);
    writeGpr(env.state, 0, size, d);
  }
  setFlags(env.state, ARITH_FLAGS, r.flags);
};

/** LAHF/SAHF move SF:ZF:0:AF:0:PF:1:CF through AH. */
const LAHF_MASK = 0xd5n;
const lahf: Sem = (env) => writeGpr(env.state, 0, 1, (env.state.rflags & LAHF_MASK) | 2n, true);
const sahf: Sem = (env) => setFlags(env.state, LAHF_MASK, readGpr(env.state, 0, 1, true));

export const BITS_SEMANTICS: Record<string, Sem> = { bt, bsf, bswap, xadd, cmpxchg, lahf, sahf };
