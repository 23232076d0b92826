// The MSRs the KVM model knows, and where KVM keeps each: in the VMCS guest-state area (vmx_get_msr /
// vmx_set_msr read and write the field) or in vcpu->arch (kvm_get_msr_common / kvm_set_msr_common).
// Numbers: Intel SDM Vol. 4 Table 2-2; Linux arch/x86/include/asm/msr-index.h names.

import type { Documented } from "../../core/machine.js";
import { APIC_REGISTERS, x2apicMsr } from "../apic/registers.js";
import type { VmcsFieldName } from "../vmx/fields.js";

export interface MsrInfo extends Documented {
  code: number;
  /** VMCS field holding it, or "arch" (KVM's software copy). */
  home: "arch" | VmcsFieldName;
  /** KVM v4.1 lets the guest access it without exits (vmx_disable_intercept_for_msr in hardware_setup). */
  passthrough: boolean;
}

const M = (code: number, name: string, home: MsrInfo["home"], passthrough: boolean, doc: string): MsrInfo => ({
  code, name, home, passthrough, doc, source: "Intel SDM Vol. 4 Table 2-2; Linux arch/x86/kvm/vmx.c (v4.1)",
});

export const MSRS: readonly MsrInfo[] = [
  M(0x10, "IA32_TSC", "arch", false, "time-stamp counter (KVM adjusts TSC_OFFSET on writes)"),
  M(0x1b, "IA32_APIC_BASE", "arch", false, "local APIC base address"),
  M(0x3a, "IA32_FEATURE_CONTROL", "arch", false, "VMX enable/lock"),
  M(0x174, "IA32_SYSENTER_CS", "GUEST_SYSENTER_CS", true, "SYSENTER code segment"),
  M(0x175, "IA32_SYSENTER_ESP", "GUEST_SYSENTER_ESP", true, "SYSENTER stack pointer"),
  M(0x176, "IA32_SYSENTER_EIP", "GUEST_SYSENTER_EIP", true, "SYSENTER entry point"),
  M(0x6e0, "IA32_TSC_DEADLINE", "arch", false, "TSC-deadline timer: the APIC timer fires when the TSC reaches it (kvm_set_lapic_tscdeadline_msr)"),
  // x2APIC registers (SDM Vol. 3 Table 11-6): MSR 0x800 + offset / 16, KVM's in-kernel APIC (kvm_x2apic_msr_read/write).
  ...APIC_REGISTERS.filter((r) => !r.xapicOnly).map((r) => M(x2apicMsr(r.offset), `IA32_X2APIC_${r.name}`, "arch", false, `x2APIC ${r.doc}`)),
  M(0x1a0, "IA32_MISC_ENABLE", "arch", false, "miscellaneous feature enables"),
  M(0x1d9, "IA32_DEBUGCTL", "GUEST_IA32_DEBUGCTL", false, "debug control"),
  M(0x277, "IA32_PAT", "GUEST_IA32_PAT", false, "page attribute table"),
  M(0xc000_0080, "EFER", "arch", false, "extended feature enables: SCE, LME (long mode enable), LMA (active), NXE"),
  M(0xc000_0081, "STAR", "arch", false, "SYSCALL target segments"),
  M(0xc000_0082, "LSTAR", "arch", false, "SYSCALL 64-bit entry point"),
  M(0xc000_0083, "CSTAR", "arch", false, "SYSCALL compatibility-mode entry point"),
  M(0xc000_0084, "SYSCALL_MASK", "arch", false, "SYSCALL RFLAGS mask"),
  M(0xc000_0100, "FS_BASE", "GUEST_FS_BASE", true, "FS segment base"),
  M(0xc000_0101, "GS_BASE", "GUEST_GS_BASE", true, "GS segment base"),
  M(0xc000_0102, "KERNEL_GS_BASE", "arch", true, "SWAPGS value"),
  M(0xc000_0103, "TSC_AUX", "arch", false, "RDTSCP auxiliary value"),
];

const byCode = new Map(MSRS.map((m) => [m.code, m]));
const byName = new Map(MSRS.map((m) => [m.name.toLowerCase(), m]));

export function msrInfo(codeOrName: number | string): MsrInfo | undefined {
  return typeof codeOrName === "number" ? byCode.get(codeOrName) : byName.get(codeOrName.toLowerCase());
}
