// The memory-type range registers as KVM emulates them for a guest (Linux arch/x86/kvm/mtrr.c
// kvm_mtrr_get_msr / kvm_mtrr_set_msr / kvm_mtrr_valid, v4.1; today's file keeps the same checks):
// plain per-vCPU state with reserved-bit #GP checks. The types they name change nothing here (no
// caches are modelled; KVM itself only consults them with non-coherent DMA, update_mtrr). Numbers
// and layout: Intel SDM Vol. 3A 11.11 "Memory Type Range Registers" (IA32_MTRRCAP 0xFE: bits 7:0
// VCNT, 8 FIX, 10 WC, 11 SMRR; IA32_MTRR_DEF_TYPE 0x2FF: bits 7:0 type, 10 FE, 11 E; the variable
// pairs IA32_MTRR_PHYSBASEn/PHYSMASKn at 0x200 + 2n / 0x201 + 2n; the 11 fixed-range MSRs), Vol. 4
// Table 2-2. PAT (0x277), which mtrr.c also handles, is the VMCS field of msrs.ts.

import { PHYSICAL_ADDRESS_BITS } from "../paging.js";

/** Linux arch/x86/include/asm/kvm_host.h KVM_NR_VAR_MTRR: variable-range pairs per vCPU. */
export const KVM_NR_VAR_MTRR = 8;
/** IA32_MTRRCAP as KVM answers it: WC (bit 10) and FIX (bit 8) set, SMRR clear, VCNT = KVM_NR_VAR_MTRR. */
export const KVM_MTRRCAP = 0x500n | BigInt(KVM_NR_VAR_MTRR);

/** The MSR numbers (SDM Vol. 4 Table 2-2; Linux msr-index.h MSR_MTRR*). */
export const MTRR_MSR = { CAP: 0xfe, PHYSBASE0: 0x200, DEF_TYPE: 0x2ff } as const;
/** The fixed-range MSRs in fixed_ranges[] order: FIX64K_00000, FIX16K_80000/A0000, FIX4K_C0000..F8000. */
export const MTRR_FIXED_MSRS: readonly number[] = [0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f];
const FIXED_NAMES = ["FIX64K_00000", "FIX16K_80000", "FIX16K_A0000", ...["C0000", "C8000", "D0000", "D8000", "E0000", "E8000", "F0000", "F8000"].map((a) => `FIX4K_${a}`)];

/** One vCPU's vcpu->arch.mtrr_state: deftype, the fixed ranges (one MSR each) and the variable pairs. */
export class MtrrState {
  deftype = 0n;
  readonly fixed: bigint[] = new Array<bigint>(MTRR_FIXED_MSRS.length).fill(0n);
  /** PHYSBASEn at 2n, PHYSMASKn at 2n + 1. */
  readonly variable: bigint[] = new Array<bigint>(2 * KVM_NR_VAR_MTRR).fill(0n);
}

/** msr_mtrr_valid plus IA32_MTRRCAP: whether `msr` is one kvm_mtrr_get_msr owns. */
export function isMtrrMsr(msr: number): boolean {
  return msr === MTRR_MSR.CAP || msr === MTRR_MSR.DEF_TYPE || MTRR_FIXED_MSRS.includes(msr) || (msr >= MTRR_MSR.PHYSBASE0 && msr < MTRR_MSR.PHYSBASE0 + 2 * KVM_NR_VAR_MTRR);
}

/** An MTRR MSR's SDM name (IA32_MTRR_PHYSBASE3, IA32_MTRR_FIX4K_C8000...), undefined for other MSRs. */
export function mtrrMsrName(msr: number): string | undefined {
  if (!isMtrrMsr(msr)) return undefined;
  if (msr === MTRR_MSR.CAP) return "IA32_MTRRCAP";
  if (msr === MTRR_MSR.DEF_TYPE) return "IA32_MTRR_DEF_TYPE";
  const f = MTRR_FIXED_MSRS.indexOf(msr);
  if (f >= 0) return `IA32_MTRR_${FIXED_NAMES[f]}`;
  const n = msr - MTRR_MSR.PHYSBASE0;
  return `IA32_MTRR_PHYS${n & 1 ? "MASK" : "BASE"}${n >> 1}`;
}

/** valid_mtrr_type: UC 0, WC 1, WT 4, WP 5, WB 6 (SDM Vol. 3A Table 11-8). */
function validType(t: number): boolean {
  return t < 8 && ((1 << t) & 0x73) !== 0;
}

/** kvm_mtrr_valid for an MTRR MSR: the reserved bits clear and every type field a valid type. */
function mtrrValid(msr: number, data: bigint): boolean {
  if (msr === MTRR_MSR.CAP) return false; // read-only: msr_mtrr_valid does not list it
  if (msr === MTRR_MSR.DEF_TYPE) return (data & ~0xcffn) === 0n && validType(Number(data & 0xffn));
  if (MTRR_FIXED_MSRS.includes(msr)) {
    for (let i = 0n; i < 64n; i += 8n) if (!validType(Number((data >> i) & 0xffn))) return false;
    return true;
  }
  // Variable: bits at and above MAXPHYADDR reserved; PHYSBASE bits 11:8, PHYSMASK bits 10:0 too.
  let reserved = ((1n << 64n) - 1n) & ~((1n << BigInt(PHYSICAL_ADDRESS_BITS)) - 1n);
  if (((msr - MTRR_MSR.PHYSBASE0) & 1) === 0) {
    if (!validType(Number(data & 0xffn))) return false;
    reserved |= 0xf00n;
  } else reserved |= 0x7ffn;
  return (data & reserved) === 0n;
}

/** kvm_mtrr_get_msr: what a guest's RDMSR of an MTRR MSR (isMtrrMsr) reads. */
export function getMtrrMsr(s: MtrrState, msr: number): bigint {
  if (msr === MTRR_MSR.CAP) return KVM_MTRRCAP;
  if (msr === MTRR_MSR.DEF_TYPE) return s.deftype;
  const f = MTRR_FIXED_MSRS.indexOf(msr);
  return f >= 0 ? s.fixed[f]! : s.variable[msr - MTRR_MSR.PHYSBASE0]!;
}

/** kvm_mtrr_set_msr for a guest's WRMSR of an MTRR MSR: 0 when stored, 1 for #GP (kvm_mtrr_valid refused it). */
export function setMtrrMsr(s: MtrrState, msr: number, data: bigint): number {
  if (!mtrrValid(msr, data)) return 1;
  if (msr === MTRR_MSR.DEF_TYPE) s.deftype = data;
  else {
    const f = MTRR_FIXED_MSRS.indexOf(msr);
    if (f >= 0) s.fixed[f] = data;
    else s.variable[msr - MTRR_MSR.PHYSBASE0] = data;
  }
  return 0;
}
