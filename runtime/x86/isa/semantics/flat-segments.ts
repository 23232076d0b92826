// What the fast system calls share (SYSCALL/SYSRET: syscall.ts; SYSENTER/SYSEXIT: sysenter.ts):
// they load fixed flat descriptors into CS and SS without reading the GDT, and read their MSRs
// through the env. The descriptors as VMX access rights (type, S, DPL, P, L, D/B, G), Intel SDM
// Vol. 2B SYSCALL ("CS.Type ← 11 … CS.L ← 1; CS.D ← 0; CS.G ← 1"), SYSRET, SYSENTER, SYSEXIT.

import type { X86Env, X86State } from "../../env.js";

/** Flat CS/SS access rights by privilege and code size. */
export const FLAT_AR = {
  kernelCs64: 0xa09b,
  kernelCs32: 0xc09b,
  kernelSs: 0xc093,
  userCs64: 0xa0fb,
  userCs32: 0xc0fb,
  userSs: 0xc0f3,
} as const;

/** A flat 4 GiB segment register (base 0, limit 0xffffffff) with `selector` and access rights. */
export function flat(selector: number, attributes: number): X86State["seg"]["cs"] {
  return { selector: selector & 0xffff, base: 0n, limit: 0xffff_ffff, attributes };
}

/** The env's view of an MSR a fast system call reads (the CPU's copy, loaded by KVM before entry); 0 without one. */
export function systemCallMsr(env: X86Env, code: number): bigint {
  return env.syscallMsr ? env.syscallMsr(code) : 0n;
}
