// SSE/SSE2 data movement, bitwise logic and MXCSR (table rows in isa/sse-table.ts) on the vCPU's
// X86FpuState. Registers move as 32-bit elements, no BigInt; memory goes through env.read/write
// 8 bytes at a time. Exceptions (Intel SDM Vol. 2 §2.4, "Exception class" of each instruction;
// Vol. 3A 2.5 CR0.EM/TS and CR4.OSFXSR): #UD if CR0.EM = 1 or CR4.OSFXSR = 0, then #NM if
// CR0.TS = 1, then #GP(0) for a 128-bit memory operand not 16-byte aligned (every legacy-SSE
// 128-bit access but MOVUPS/MOVUPD/MOVDQU), then the access's own faults. A 16-byte store that
// faults on its second 8 bytes has written the first (the model stores in two halves).

import type { X86Env } from "../../env.js";
import type { X86FpuState } from "../../fpu-state.js";
import { MXCSR_MASK } from "../../fpu-state.js";
import type { X86Insn, X86Operand } from "../types.js";
import { VECTOR } from "../../vectors.js";
import { CR0, CR4 } from "../../state.js";
import { effectiveAddress, linearAddress, readGpr, readMem, writeGpr, writeMem, type MemOperand, type Sem } from "./core.js";

/**
 * The FPU state for an SSE instruction after its CR0/CR4 checks (#UD: no FPU state, CR0.EM or
 * !CR4.OSFXSR; #NM: CR0.TS). SDM Vol. 3A 2.5 (CR0.EM, CR0.TS, CR4.OSFXSR) and 13.1.4.
 */
export function sseState(env: X86Env): X86FpuState {
  const s = env.state;
  const f = s.fpu;
  if (!f || s.cr0 & CR0.EM || !(s.cr4 & CR4.OSFXSR)) return env.raise(VECTOR.UD);
  if (s.cr0 & CR0.TS) return env.raise(VECTOR.NM);
  return f;
}

/** #GP(0) unless the memory operand's linear address is a multiple of `align` bytes. */
export function checkAligned(env: X86Env, insn: X86Insn, m: MemOperand, align: number): void {
  if (Number(linearAddress(env.state, insn, m) & BigInt(align - 1)) !== 0) env.raise(VECTOR.GP, 0);
}

const lo32 = (v: bigint): number => Number(v & 0xffff_ffffn);
const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffff_ffffn);

/** `bytes` (4, 8 or 16) of an XMM register, GPR or memory operand as four 32-bit elements, zero-extended. */
function readVec(env: X86Env, insn: X86Insn, f: X86FpuState, op: X86Operand, bytes: number): Uint32Array {
  const v = new Uint32Array(4);
  if (op.kind === "xmm") {
    v.set(f.xmm.subarray(4 * op.n, 4 * op.n + bytes / 4));
  } else if (op.kind === "reg") {
    const g = readGpr(env.state, op.reg, bytes);
    v[0] = lo32(g);
    if (bytes === 8) v[1] = hi32(g);
  } else if (op.kind === "mem") {
    const ea = effectiveAddress(env.state, insn, op);
    if (bytes === 4) v[0] = lo32(readMem(env, op.seg, ea, 4));
    else {
      for (let i = 0; i < bytes; i += 8) {
        const q = readMem(env, op.seg, ea + BigInt(i), 8);
        v[i / 4] = lo32(q);
        v[i / 4 + 1] = hi32(q);
      }
    }
  } else env.raise(VECTOR.UD);
  return v;
}

/** Write the low `bytes` of `v` to memory or a GPR, or all 16 (zero-extended by the caller) to an XMM register. */
function writeVec(env: X86Env, insn: X86Insn, f: X86FpuState, op: X86Operand, v: Uint32Array, bytes: number): void {
  if (op.kind === "xmm") f.xmm.set(v, 4 * op.n);
  else if (op.kind === "reg") writeGpr(env.state, op.reg, bytes, (BigInt(v[1]!) << 32n) | BigInt(v[0]!));
  else if (op.kind === "mem") {
    const ea = effectiveAddress(env.state, insn, op);
    if (bytes === 4) writeMem(env, op.seg, ea, 4, BigInt(v[0]!));
    else for (let i = 0; i < bytes; i += 8) writeMem(env, op.seg, ea + BigInt(i), 8, (BigInt(v[i / 4 + 1]!) << 32n) | BigInt(v[i / 4]!));
  } else env.raise(VECTOR.UD);
}

/** The 128-bit memory operand of an aligned form (arg 1), checked. */
function alignedOperand(env: X86Env, insn: X86Insn, needAligned: boolean): void {
  if (!needAligned) return;
  for (const op of insn.operands) if (op.kind === "mem") checkAligned(env, insn, op, 16);
}

/** MOVUPS/MOVAPS/MOVDQA/MOVDQU/MOVNTDQ...: 128 bits from the second operand to the first. */
const sseMov: Sem = (env, insn) => {
  const f = sseState(env);
  alignedOperand(env, insn, insn.spec.arg === 1);
  writeVec(env, insn, f, insn.operands[0]!, readVec(env, insn, f, insn.operands[1]!, 16), 16);
};

/** MOVSS/MOVSD (arg = element bytes): register to register merges the low element; a load zeroes bits 127:32 (or 127:64). */
const sseMovScalar: Sem = (env, insn) => {
  const f = sseState(env);
  const n = insn.spec.arg!;
  const [dst, src] = insn.operands as [X86Operand, X86Operand];
  const v = readVec(env, insn, f, src, n);
  if (dst.kind === "xmm" && src.kind === "xmm") f.xmm.set(v.subarray(0, n / 4), 4 * dst.n);
  else writeVec(env, insn, f, dst, v, n);
};

/**
 * MOVD/MOVQ: the low 32 or 64 bits (the GPR or memory operand's size; 64 between XMM registers) from
 * source to destination; an XMM destination gets them zero-extended to 128 bits.
 */
const sseMovZero: Sem = (env, insn) => {
  const f = sseState(env);
  const [dst, src] = insn.operands as [X86Operand, X86Operand];
  const other = dst.kind === "xmm" ? src : dst;
  const n = other.kind === "reg" || other.kind === "mem" ? other.size : 8;
  writeVec(env, insn, f, dst, readVec(env, insn, f, src, n), n);
};

/** ANDPS/ANDNPS/ORPS/XORPS, ANDPD.., PAND/PANDN/POR/PXOR (arg: and, andn, or, xor): dst = dst OP src, 128 bits. */
const sseLogic: Sem = (env, insn) => {
  const f = sseState(env);
  alignedOperand(env, insn, true);
  const dst = insn.operands[0] as Extract<X86Operand, { kind: "xmm" }>;
  const b = readVec(env, insn, f, insn.operands[1]!, 16);
  const x = f.xmm;
  const at = 4 * dst.n;
  for (let k = 0; k < 4; k++) {
    const a = x[at + k]!;
    const r = insn.spec.arg === 0 ? a & b[k]! : insn.spec.arg === 1 ? ~a & b[k]! : insn.spec.arg === 2 ? a | b[k]! : a ^ b[k]!;
    x[at + k] = r >>> 0;
  }
};

/** LDMXCSR m32: #GP(0) if a bit outside MXCSR_MASK is set (SDM Vol. 2 LDMXCSR). */
const ldmxcsr: Sem = (env, insn) => {
  const f = sseState(env);
  const m = insn.operands[0] as MemOperand;
  const v = Number(readMem(env, m.seg, effectiveAddress(env.state, insn, m), 4));
  if (v & ~MXCSR_MASK) env.raise(VECTOR.GP, 0);
  f.mxcsr = v;
};

/** STMXCSR m32. */
const stmxcsr: Sem = (env, insn) => {
  const f = sseState(env);
  const m = insn.operands[0] as MemOperand;
  writeMem(env, m.seg, effectiveAddress(env.state, insn, m), 4, BigInt(f.mxcsr));
};

export const SSE_SEMANTICS: Record<string, Sem> = { sseMov, sseMovScalar, sseMovZero, sseLogic, ldmxcsr, stmxcsr };
