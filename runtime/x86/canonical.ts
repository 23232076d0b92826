// Canonical addresses on the modelled x86 CPU, and the registers whose loads check them.
// Sources: Intel SDM Vol. 1 3.3.7.1 (canonical addressing: bits 63 to the CPU's linear-address width
// all equal); Vol. 2B WRMSR ("#GP(0) if the source register contains a non-canonical address and
// ECX specifies one of IA32_DS_AREA, IA32_FS_BASE, IA32_GS_BASE, IA32_KERNEL_GS_BASE, IA32_LSTAR,
// IA32_SYSENTER_EIP, IA32_SYSENTER_ESP"); Linux arch/x86/kvm/x86.c __kvm_set_msr (KVM's software
// copy of FS/GS/KERNEL_GS_BASE, LSTAR, CSTAR: "if (is_noncanonical_address(data, vcpu)) return 1");
// arch/x86/kvm/emulate.c em_lgdt_lidt and __load_segment_descriptor (LGDT/LIDT base, and the
// LDT/TSS descriptor's 64-bit base in 64-bit mode: #GP).

import { msrInfo } from "./kvm/msrs.js";

/**
 * The modelled CPU's linear-address width in bits: CPUID 0x80000008 EAX[15:8] = 48 (runtime/x86/kvm/cpuid.ts);
 * it has no LA57 (5-level paging), so no register accepts a 57-bit canonical address.
 */
export const LINEAR_ADDRESS_BITS = 48;

/** Whether `addr` (a 64-bit value) is canonical: bits 63..47 all zero or all one. */
export function isCanonical(addr: bigint): boolean {
  const top = (addr & 0xffff_ffff_ffff_ffffn) >> BigInt(LINEAR_ADDRESS_BITS - 1);
  return top === 0n || top === (1n << BigInt(65 - LINEAR_ADDRESS_BITS)) - 1n;
}

/** `addr` made canonical: bit 47 copied into bits 63..48 (KVM's get_canonical / __canonical_address). */
export function canonicalized(addr: bigint): bigint {
  const shift = BigInt(64 - LINEAR_ADDRESS_BITS);
  return BigInt.asUintN(64, BigInt.asIntN(64, addr << shift) >> shift);
}

/**
 * MSRs that hold a linear address, by who checks the value: the CPU's WRMSR (SDM Vol. 2B WRMSR's list,
 * those the modelled CPU has; the guest reaches them without an exit when the MSR bitmap lets it)
 * refuses a non-canonical value with #GP(0); KVM's __kvm_set_msr (an MSR that exits) refuses it for
 * the "refuse" MSRs and makes it canonical for SYSENTER_ESP/EIP (AMD ignores their top half: the same
 * value migrates across vendors). Both eras' KVM do so (v4.1 kvm_set_msr has the same switch).
 */
const CPU_CHECKED = ["FS_BASE", "GS_BASE", "KERNEL_GS_BASE", "LSTAR", "IA32_SYSENTER_ESP", "IA32_SYSENTER_EIP"];
const KVM_REFUSED = ["FS_BASE", "GS_BASE", "KERNEL_GS_BASE", "LSTAR", "CSTAR"];
const KVM_CANONICALIZED = ["IA32_SYSENTER_ESP", "IA32_SYSENTER_EIP"];
const codes = (names: string[]) => new Set(names.map((n) => msrInfo(n)!.code));
const CPU_CHECKED_CODES = codes(CPU_CHECKED);
const KVM_REFUSED_CODES = codes(KVM_REFUSED);
const KVM_CANONICALIZED_CODES = codes(KVM_CANONICALIZED);

/** Whether the CPU's WRMSR of `value` to `msr` raises #GP(0): the MSR holds an address and `value` is not canonical. */
export function cpuRefusesMsr(msr: number, value: bigint): boolean {
  return CPU_CHECKED_CODES.has(msr) && !isCanonical(value);
}

/**
 * What KVM's __kvm_set_msr does with a guest's WRMSR of `value` to `msr` before storing it: null to
 * refuse it (#GP injected), else the value to store (made canonical for SYSENTER_ESP/EIP).
 */
export function kvmMsrValue(msr: number, value: bigint): bigint | null {
  if (KVM_REFUSED_CODES.has(msr)) return isCanonical(value) ? value : null;
  if (KVM_CANONICALIZED_CODES.has(msr)) return canonicalized(value);
  return value;
}
