// SYSENTER and SYSEXIT (Intel SDM Vol. 2B SYSENTER, SYSEXIT): fast calls to and returns from CPL 0
// through IA32_SYSENTER_CS (0x174: the kernel CS selector; SS is CS + 8, the user CS + 16 or, for
// a return to 64-bit code, + 32), IA32_SYSENTER_ESP (0x175) and IA32_SYSENTER_EIP (0x176). Both load
// fixed flat descriptors (no GDT read). On Intel CPUs both are valid in 64-bit mode; in IA-32e mode
// SYSENTER enters 64-bit code. The MSRs are the CPU's own (KVM lets the guest at them without exits:
// msrs.ts passthrough; control-regs.ts NATIVE_MSRS), read through X86Env.syscallMsr.

import type { X86Env } from "../../env.js";
import { CR0, EFER, modeOf } from "../../state.js";
import { VECTOR } from "../../vectors.js";
import { isCanonical } from "../../canonical.js";
import { cpl, type Sem } from "./core.js";
import { FLAT_AR, flat, systemCallMsr } from "./flat-segments.js";

export const MSR_SYSENTER_CS = 0x174;
export const MSR_SYSENTER_ESP = 0x175;
export const MSR_SYSENTER_EIP = 0x176;

/** RFLAGS.VM (bit 17), RF (16) and IF (9): cleared by SYSENTER. */
const SYSENTER_CLEARS = (1n << 17n) | (1n << 16n) | (1n << 9n);

/** IA32_SYSENTER_CS[15:0], or #GP(0) when its bits 15:2 are zero or CR0.PE is clear. */
function sysenterCs(env: X86Env): number {
  const cs = Number(systemCallMsr(env, MSR_SYSENTER_CS) & 0xffffn);
  if (!(env.state.cr0 & CR0.PE) || (cs & 0xfffc) === 0) env.raise(VECTOR.GP, 0);
  return cs;
}

/** SYSENTER: CPL 0 at IA32_SYSENTER_EIP with IA32_SYSENTER_ESP; VM, IF and RF cleared; 64-bit code in IA-32e mode. */
const sysenter: Sem = (env) => {
  const s = env.state;
  const cs = sysenterCs(env);
  const ia32e = (s.efer & EFER.LMA) !== 0n;
  const from = s.mode;
  s.rflags = (s.rflags & ~SYSENTER_CLEARS) | 2n;
  s.seg.cs = flat(cs & 0xfffc, ia32e ? FLAT_AR.kernelCs64 : FLAT_AR.kernelCs32);
  s.seg.ss = flat((cs & 0xfffc) + 8, FLAT_AR.kernelSs);
  const sp = systemCallMsr(env, MSR_SYSENTER_ESP), ip = systemCallMsr(env, MSR_SYSENTER_EIP);
  s.gpr[4] = ia32e ? sp : sp & 0xffff_ffffn;
  s.mode = modeOf(s);
  env.privilegeChanged?.(from);
  s.nextRip = ia32e ? ip : ip & 0xffff_ffffn;
};

/** SYSEXIT: CPL 3 at RDX (EDX) with RSP from RCX (ECX); REX.W returns to 64-bit code. RFLAGS unchanged. */
const sysexit: Sem = (env, insn) => {
  const s = env.state;
  const cs = sysenterCs(env);
  if (cpl(s) !== 0) env.raise(VECTOR.GP, 0);
  const to64 = insn.operandSize === 8;
  if (to64 && (!isCanonical(s.gpr[1]!) || !isCanonical(s.gpr[2]!))) env.raise(VECTOR.GP, 0);
  const sel = (cs + (to64 ? 32 : 16)) | 3;
  const from = s.mode;
  s.seg.cs = flat(sel, to64 ? FLAT_AR.userCs64 : FLAT_AR.userCs32);
  s.seg.ss = flat(sel + 8, FLAT_AR.userSs);
  s.gpr[4] = to64 ? s.gpr[1]! : s.gpr[1]! & 0xffff_ffffn;
  s.mode = modeOf(s);
  env.privilegeChanged?.(from);
  s.nextRip = to64 ? s.gpr[2]! : s.gpr[2]! & 0xffff_ffffn;
};

export const SYSENTER_SEMANTICS: Readonly<Record<string, Sem>> = { sysenter, sysexit };
