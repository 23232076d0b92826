// The VEX-encoded AVX moves and VZEROUPPER/VZEROALL (rows in isa/sse-table.ts avxRows) on the
// vCPU's X86FpuState: XMM halves in `xmm`, bits 255:128 in `ymmHi`. No AVX arithmetic is
// modelled. Exceptions (Intel SDM Vol. 2 §2.8, exception type 1 for the aligned moves, type 4
// for the others; §2.3.6 for VEX.vvvv): #UD if CR4.OSXSAVE = 0 or XCR0[2:1] != 11b, or if
// VEX.vvvv is not 1111b (none of these instructions has a vvvv operand); #NM if CR0.TS; #GP(0)
// for the aligned forms (VMOVAPS/VMOVAPD/VMOVDQA/VMOVNTPS/VMOVNTDQ/VMOVNTDQA) whose memory operand
// is not aligned to its size (16 or 32 bytes). A VEX.128 destination register has bits 255:128
// zeroed (§2.3.10.1). VEX.256 VMOVNTDQA is an AVX2 form (SDM Vol. 2 MOVNTDQA); it runs here
// although CPUID does not offer AVX2. Memory goes 8 bytes at a time as in sse.ts.

import type { X86Env } from "../../env.js";
import type { X86FpuState } from "../../fpu-state.js";
import { XFEATURE } from "../../fpu-state.js";
import type { X86Insn, X86Operand } from "../types.js";
import { VECTOR } from "../../vectors.js";
import { CR0, CR4 } from "../../state.js";
import { effectiveAddress, readMem, writeMem, type Sem } from "./core.js";
import { checkAligned } from "./sse.js";

/** The FPU state for a VEX instruction after its #UD and #NM checks. */
function avxState(env: X86Env, insn: X86Insn): X86FpuState {
  const s = env.state;
  const f = s.fpu;
  const xcr0 = env.xgetbv && s.cr4 & CR4.OSXSAVE ? env.xgetbv(0) : 0n;
  const ymm = XFEATURE.SSE | XFEATURE.YMM;
  if (!f || (xcr0 & ymm) !== ymm || (insn.vex?.vvvv ?? 0) !== 0) return env.raise(VECTOR.UD);
  if (s.cr0 & CR0.TS) return env.raise(VECTOR.NM);
  return f;
}

/** VMOVUPS/VMOVAPS/VMOVDQA/VMOVDQU/VMOVNTDQ/VMOVNTDQA...: 16 (VEX.128) or 32 (VEX.256) bytes; arg 1 = aligned form. */
const avxMov: Sem = (env, insn) => {
  const f = avxState(env, insn);
  const bytes = insn.vex?.l ? 32 : 16;
  const [dst, src] = insn.operands as [X86Operand, X86Operand];
  if (insn.spec.arg === 1) for (const op of insn.operands) if (op.kind === "mem") checkAligned(env, insn, op, bytes);
  const v = new Uint32Array(8);
  if (src.kind === "xmm") {
    v.set(f.xmm.subarray(4 * src.n, 4 * src.n + 4));
    if (bytes === 32) v.set(f.ymmHi.subarray(4 * src.n, 4 * src.n + 4), 4);
  } else if (src.kind === "mem") {
    const ea = effectiveAddress(env.state, insn, src);
    for (let i = 0; i < bytes; i += 8) {
      const q = readMem(env, src.seg, ea + BigInt(i), 8);
      v[i / 4] = Number(q & 0xffff_ffffn);
      v[i / 4 + 1] = Number(q >> 32n);
    }
  } else env.raise(VECTOR.UD);
  if (dst.kind === "xmm") {
    f.xmm.set(v.subarray(0, 4), 4 * dst.n);
    f.ymmHi.set(v.subarray(4, 8), 4 * dst.n); // zeros for VEX.128
  } else if (dst.kind === "mem") {
    const ea = effectiveAddress(env.state, insn, dst);
    for (let i = 0; i < bytes; i += 8) writeMem(env, dst.seg, ea + BigInt(i), 8, (BigInt(v[i / 4 + 1]!) << 32n) | BigInt(v[i / 4]!));
  } else env.raise(VECTOR.UD);
};

/**
 * VZEROUPPER (arg 0): bits 255:128 of every YMM register zero; VZEROALL (arg 1): whole registers.
 * YMM8-YMM15 are untouched outside 64-bit mode (SDM Vol. 2 VZEROALL, VZEROUPPER).
 */
const avxZero: Sem = (env, insn) => {
  const f = avxState(env, insn);
  const n = insn.mode === "long64" ? 64 : 32;
  f.ymmHi.fill(0, 0, n);
  if (insn.spec.arg === 1) f.xmm.fill(0, 0, n);
};

export const AVX_SEMANTICS: Record<string, Sem> = { avxMov, avxZero };
