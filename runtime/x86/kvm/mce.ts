// The machine-check MSRs as KVM emulates them for a guest (Linux arch/x86/kvm/x86.c get_msr_mce and
// set_msr_mce, called from kvm_get_msr_common / kvm_set_msr_common; v4.1 has the same two functions).
// Numbers and layout: Intel SDM Vol. 3B 16.3 "Machine-Check MSRs" (IA32_MCG_CAP 0x179: bits 7:0 the
// bank count, bit 8 MCG_CTL_P; IA32_MCG_STATUS 0x17a; IA32_MCG_CTL 0x17b; bank i's IA32_MCi_CTL,
// _STATUS, _ADDR, _MISC at 0x400 + 4i + 0..3), Vol. 4 Table 2-2.
//
// KVM keeps 4 × KVM_MAX_MCE_BANKS bank registers per vCPU and starts with mcg_cap = KVM_MAX_MCE_BANKS
// (kvm_arch_vcpu_create: 32 banks, no capability bits) until the VMM calls KVM_X86_SETUP_MCE; exitlab's
// VMM does not, so the guest sees KVM's default. Only the MSRs change: CPUID's MCE/MCA bits stay as
// runtime/x86/kvm/cpuid.ts has them.

import type { KvmEra } from "../../core/trace.js";

/** Linux arch/x86/include/asm/kvm_host.h KVM_MAX_MCE_BANKS. */
export const KVM_MAX_MCE_BANKS = 32;
/** SDM Vol. 3B 16.3.1.1: IA32_MCG_CAP.MCG_CTL_P (IA32_MCG_CTL present). */
const MCG_CTL_P = 1n << 8n;
const ALL_ONES = (1n << 64n) - 1n;

/** The MSR numbers (SDM Vol. 4 Table 2-2; Linux msr-index.h MSR_IA32_*). */
export const MCE_MSR = {
  P5_MC_ADDR: 0x0,
  P5_MC_TYPE: 0x1,
  MCG_CAP: 0x179,
  MCG_STATUS: 0x17a,
  MCG_CTL: 0x17b,
  MC0_CTL: 0x400,
} as const;

/** A bank register's name by its offset within the bank (SDM Vol. 3B 16.3.2). */
const BANK_REGS = ["CTL", "STATUS", "ADDR", "MISC"] as const;

/** One vCPU's machine-check state: vcpu->arch.mcg_cap, mcg_status, mcg_ctl and mce_banks[]. */
export class MceState {
  /** IA32_MCG_CAP as the guest reads it: KVM's default until a VMM sets one. */
  mcgCap = BigInt(KVM_MAX_MCE_BANKS);
  mcgStatus = 0n;
  mcgCtl = 0n;
  /** 4 registers per bank, MCi_CTL at 4i (mce_banks[]). */
  readonly banks: bigint[] = new Array<bigint>(4 * KVM_MAX_MCE_BANKS).fill(0n);

  /** The number of banks the guest has (IA32_MCG_CAP[7:0]). */
  get bankCount(): number {
    return Number(this.mcgCap & 0xffn);
  }
}

/** Whether `msr` is one get_msr_mce / set_msr_mce owns (the banks up to KVM_MAX_MCE_BANKS, present or not). */
export function isMceMsr(msr: number): boolean {
  return (msr >= MCE_MSR.P5_MC_ADDR && msr <= MCE_MSR.P5_MC_TYPE) || (msr >= MCE_MSR.MCG_CAP && msr <= MCE_MSR.MCG_CTL) || (msr >= MCE_MSR.MC0_CTL && msr < MCE_MSR.MC0_CTL + 4 * KVM_MAX_MCE_BANKS);
}

/** An MCE MSR's name in the SDM's terms (IA32_MCG_CAP, IA32_MC3_STATUS...), undefined for other MSRs. */
export function mceMsrName(msr: number): string | undefined {
  if (!isMceMsr(msr)) return undefined;
  if (msr >= MCE_MSR.MC0_CTL) return `IA32_MC${(msr - MCE_MSR.MC0_CTL) >> 2}_${BANK_REGS[(msr - MCE_MSR.MC0_CTL) & 3]}`;
  return `IA32_${Object.entries(MCE_MSR).find(([, c]) => c === msr)![0]}`;
}

/**
 * get_msr_mce: the value a guest's RDMSR of `msr` reads, or null for #GP (IA32_MCG_CTL without
 * MCG_CTL_P; a bank beyond IA32_MCG_CAP's count). `msr` must be an MCE MSR (isMceMsr).
 */
export function getMceMsr(s: MceState, msr: number): bigint | null {
  switch (msr) {
    case MCE_MSR.P5_MC_ADDR:
    case MCE_MSR.P5_MC_TYPE:
      return 0n;
    case MCE_MSR.MCG_CAP:
      return s.mcgCap;
    case MCE_MSR.MCG_CTL:
      return s.mcgCap & MCG_CTL_P ? s.mcgCtl : null;
    case MCE_MSR.MCG_STATUS:
      return s.mcgStatus;
  }
  const offset = msr - MCE_MSR.MC0_CTL;
  return offset >= 0 && offset < 4 * s.bankCount ? s.banks[offset]! : null;
}

/**
 * set_msr_mce for a guest's WRMSR: 0 when stored, 1 for #GP. IA32_MCi_CTL takes only 0 or all ones
 * (bit 10 may be clear: Linux's AMD K8 GART workaround; today also bit 0: UNIXWARE's, a 2022
 * Linux fix); today's KVM refuses a non-zero IA32_MCi_STATUS (Linux 9ffd986c6e4e: only AMD with
 * HWCR.McStatusWrEn may write one, and the modelled CPU is Intel), v4.1 stored it. P5_MC_ADDR/TYPE
 * and IA32_MCG_CAP are read-only (kvm_set_msr_common does not take them: #GP).
 */
export function setMceMsr(s: MceState, msr: number, data: bigint, era: KvmEra): number {
  switch (msr) {
    case MCE_MSR.MCG_STATUS:
      s.mcgStatus = data;
      return 0;
    case MCE_MSR.MCG_CTL:
      if (!(s.mcgCap & MCG_CTL_P)) return 1;
      if (data !== 0n && data !== ALL_ONES) return 1;
      s.mcgCtl = data;
      return 0;
  }
  const offset = msr - MCE_MSR.MC0_CTL;
  if (offset < 0 || offset >= 4 * s.bankCount) return 1;
  const tolerated = era === "2015" ? 1n << 10n : (1n << 10n) | 1n;
  if ((offset & 3) === 0 && data !== 0n && (data | tolerated) !== ALL_ONES) return 1;
  if (era !== "2015" && (offset & 3) === 1 && data !== 0n) return 1;
  s.banks[offset] = data;
  return 0;
}
