// SYSCALL and SYSRET (Intel SDM Vol. 2B SYSCALL, SYSRET; AMD APM Vol. 3 for SYSCALL outside 64-bit
// mode). The MSRs: IA32_STAR (0xC0000081: bits 47:32 the kernel CS, 63:48 the user CS base),
// IA32_LSTAR (0xC0000082, 64-bit entry), IA32_CSTAR (0xC0000083, compatibility-mode entry: AMD
// only), IA32_FMASK (0xC0000084, RFLAGS bits SYSCALL clears). Both load fixed flat descriptors
// (no GDT read). Intel: SYSCALL is #UD outside 64-bit mode — KVM's emulator runs it there for a
// guest whose CPUID says AMD (arch/x86/kvm/emulate.c em_syscall, em_syscall_is_enabled); the env
// says whether that applies (`syscallOutside64`).

import { EFER, modeOf } from "../../state.js";
import { VECTOR } from "../../vectors.js";
import { isCanonical } from "../../canonical.js";
import { cpl, type Sem } from "./core.js";
import { FLAT_AR, flat, systemCallMsr } from "./flat-segments.js";

export const MSR_STAR = 0xc000_0081;
export const MSR_LSTAR = 0xc000_0082;
export const MSR_CSTAR = 0xc000_0083;
export const MSR_FMASK = 0xc000_0084;

/** RFLAGS.RF (bit 16): cleared in the R11 copy and in RFLAGS by SYSCALL. */
const RF = 1n << 16n;
/** SYSRET's RFLAGS from R11: (R11 & 3C7FD7H) | 2 (SDM Vol. 2B SYSRET). */
const SYSRET_FLAGS = 0x3c_7fd7n;

/** SYSCALL: RCX ← next RIP, R11 ← RFLAGS, RFLAGS &= ~FMASK, CS/SS from STAR[47:32], CPL 0, RIP ← LSTAR (CSTAR from compatibility mode). */
const syscall: Sem = (env) => {
  const s = env.state;
  if (!(s.efer & EFER.SCE) || !(s.efer & EFER.LMA)) env.raise(VECTOR.UD);
  const compat = s.mode !== "long64";
  if (compat && !env.syscallOutside64?.()) env.raise(VECTOR.UD);
  const star = systemCallMsr(env, MSR_STAR);
  const sel = Number((star >> 32n) & 0xffffn);
  s.gpr[1] = compat ? s.nextRip & 0xffff_ffffn : s.nextRip;
  s.gpr[11] = s.rflags & ~RF;
  s.rflags = (s.rflags & ~systemCallMsr(env, MSR_FMASK) & ~RF) | 2n;
  const from = s.mode;
  s.seg.cs = flat(sel & 0xfffc, FLAT_AR.kernelCs64);
  s.seg.ss = flat((sel + 8) & 0xfffc, FLAT_AR.kernelSs);
  s.mode = modeOf(s);
  env.privilegeChanged?.(from);
  s.nextRip = systemCallMsr(env, compat ? MSR_CSTAR : MSR_LSTAR);
};

/** SYSRET: back to CPL 3 at RCX (REX.W: 64-bit code; else ECX, compatibility mode), RFLAGS from R11. */
const sysret: Sem = (env, insn) => {
  const s = env.state;
  if (!(s.efer & EFER.SCE) || s.mode !== "long64") env.raise(VECTOR.UD);
  if (cpl(s) !== 0) env.raise(VECTOR.GP, 0);
  const to64 = insn.operandSize === 8;
  // Intel: a non-canonical RCX is #GP(0) in 64-bit mode, before any state changes.
  if (to64 && !isCanonical(s.gpr[1]!)) env.raise(VECTOR.GP, 0);
  const base = Number((systemCallMsr(env, MSR_STAR) >> 48n) & 0xffffn);
  s.nextRip = to64 ? s.gpr[1]! : s.gpr[1]! & 0xffff_ffffn;
  s.rflags = (s.gpr[11]! & SYSRET_FLAGS) | 2n;
  s.seg.cs = to64 ? flat((base + 16) | 3, FLAT_AR.userCs64) : flat(base | 3, FLAT_AR.userCs32);
  s.seg.ss = flat((base + 8) | 3, FLAT_AR.userSs);
  s.mode = modeOf(s);
  env.privilegeChanged?.("long64");
};

export const SYSCALL_SEMANTICS: Readonly<Record<string, Sem>> = { syscall, sysret };
