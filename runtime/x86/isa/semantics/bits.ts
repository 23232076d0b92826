// Bit tests and scans, BSWAP, XADD, CMPXCHG, CMPXCHG8B/16B, POPCNT, LZCNT, MOVBE, LAHF/SAHF (SDM
// Vol. 2 pages of each). Undefined flags (SF/ZF/AF/PF after BT*, all but ZF after BSF/BSR, OF/SF/AF/PF
// after LZCNT) are left unchanged.

import { VECTOR } from "../../vectors.js";
import { checkAligned } from "./sse.js";
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

/**
 * CMPXCHG8B (CMPXCHG16B with REX.W): compare EDX:EAX (RDX:RAX) with the 8 (16) bytes at the operand;
 * equal: ZF ← 1 and ECX:EBX (RCX:RBX) stored; else ZF ← 0, the old value loaded into EDX:EAX
 * (RDX:RAX; a 32-bit load zero-extends) and written back, as the locked cycle always writes. Only ZF
 * changes. CMPXCHG16B's operand must be 16-byte aligned, else #GP(0).
 */
const cmpxchg8b: Sem = (env, insn) => {
  const m = insn.operands[0]!;
  if (m.kind !== "mem") return env.raise(VECTOR.UD);
  const half = insn.operandSize === 8 ? 8 : 4;
  if (half === 8) checkAligned(env, insn, m, 16);
  const s = env.state;
  const ea = effectiveAddress(s, insn, m);
  const bits = BigInt(half * 8);
  const old = half === 8 ? readMem(env, m.seg, ea, 8) | (readMem(env, m.seg, ea + 8n, 8) << 64n) : readMem(env, m.seg, ea, 8);
  const expect = readGpr(s, 0, half) | (readGpr(s, 2, half) << bits);
  const equal = old === expect;
  const value = equal ? readGpr(s, 3, half) | (readGpr(s, 1, half) << bits) : old;
  if (half === 8) {
    writeMem(env, m.seg, ea, 8, value & mask(8));
    writeMem(env, m.seg, ea + 8n, 8, value >> 64n);
  } else writeMem(env, m.seg, ea, 8, value);
  if (!equal) {
    writeGpr(s, 0, half, old & mask(half));
    writeGpr(s, 2, half, old >> bits);
  }
  setFlags(s, ZF, equal ? ZF : 0n);
};

/** POPCNT: the number of set bits of the source; ZF ← source = 0, OF/SF/AF/CF/PF ← 0. */
const popcnt: Sem = (env, insn) => {
  const [dst, src] = insn.operands;
  let v = readOperand(env, insn, src!);
  const zero = v === 0n;
  let n = 0n;
  for (; v; v &= v - 1n) n++;
  writeOperand(env, insn, dst!, n);
  setFlags(env.state, ARITH_FLAGS, zero ? ZF : 0n);
};

/** LZCNT: leading zero bits of the source (its size when zero); CF ← source = 0, ZF ← result = 0. */
const lzcnt: Sem = (env, insn) => {
  const [dst, src] = insn.operands;
  const size = sizeOf(src!) * 8;
  const v = readOperand(env, insn, src!);
  let n = 0;
  while (n < size && ((v >> BigInt(size - 1 - n)) & 1n) === 0n) n++;
  writeOperand(env, insn, dst!, BigInt(n));
  setFlags(env.state, CF | ZF, (n === size ? CF : 0n) | (n === 0 ? ZF : 0n));
};

/** The `bytes` low bytes of `v` in reverse order. */
function byteSwap(v: bigint, bytes: number): bigint {
  let r = 0n;
  for (let i = 0; i < bytes; i++) r |= ((v >> BigInt(8 * i)) & 0xffn) << BigInt(8 * (bytes - 1 - i));
  return r;
}

/** MOVBE: move with the bytes reversed, memory to register (0F 38 F0) or register to memory (F1); no flags. */
const movbe: Sem = (env, insn) => {
  const [dst, src] = insn.operands;
  writeOperand(env, insn, dst!, byteSwap(readOperand(env, insn, src!), sizeOf(dst!)));
};

/** LAHF/SAHF move SF:ZF:0:AF:0:PF:1:CF through AH. */
const LAHF_MASK = 0xd5n;
const lahf: Sem = (env) => writeGpr(env.state, 0, 1, (env.state.rflags & LAHF_MASK) | 2n, true);
const sahf: Sem = (env) => setFlags(env.state, LAHF_MASK, readGpr(env.state, 0, 1, true));

export const BITS_SEMANTICS: Record<string, Sem> = { bt, bsf, bswap, xadd, cmpxchg, cmpxchg8b, popcnt, lzcnt, movbe, lahf, sahf };
