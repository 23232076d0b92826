// The VMX side of the world switch (`show switch` on x86): what the processor moves through the
// VMCS by itself on a VM exit and a VM entry, against what KVM saves and loads by hand around
// VMLAUNCH/VMRESUME. The guest-state fields come from guest-state.ts (the ones this model stores
// and loads), the host-state fields from the VMCS field table as the controls select them, the
// exit-information fields from what Vmcs.writeExitInfo writes, and KVM's part from Linux v4.1
// arch/x86/kvm/vmx.c vmx_vcpu_run (its inline assembly saves and loads RAX, RBX, RCX, RDX, RSI,
// RDI, RBP, R8-R15 and CR2 in vcpu->arch.regs; RSP/RIP are in the VMCS). Cycles are the cost
// model's (x86/cost.ts VMX_TRANSITION).
// Sources: Intel SDM Vol. 3 27.3 "Saving guest state", 27.5 "Loading host state", 26.3.2
// "Loading guest state", 24.9.1 "Basic VM-exit information"; Linux v4.1 vmx.c vmx_vcpu_run.

import type { MachineView } from "../../core/machine.js";
import type { FieldValue } from "../../core/trace.js";
import { VMCS_FIELDS, type Vmcs } from "./fields.js";
import { ctl } from "./controls.js";
import { guestStateFields } from "./guest-state.js";
import { VMX_TRANSITION } from "../cost.js";

/** The registers vmx_vcpu_run moves by hand (Linux v4.1 vmx.c: VCPU_REGS_* and CR2). */
export const KVM_BY_HAND = ["RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15", "CR2"] as const;

/** The basic VM-exit information fields the processor writes at every exit (SDM 24.9.1; Vmcs.writeExitInfo). */
export const EXIT_INFO_FIELDS = ["VM_EXIT_REASON", "EXIT_QUALIFICATION", "GUEST_PHYSICAL_ADDRESS", "GUEST_LINEAR_ADDRESS", "VM_EXIT_INSTRUCTION_LEN", "VM_EXIT_INTR_INFO", "VM_EXIT_INTR_ERROR_CODE", "IDT_VECTORING_INFO_FIELD"] as const;

/** The host-state fields a VM exit loads (SDM 27.5), as the exit controls select the optional ones. */
export function hostStateFields(exitControls: number): string[] {
  const optional: Record<string, number> = {
    HOST_IA32_PAT: ctl("VM_EXIT_LOAD_IA32_PAT"),
    HOST_IA32_EFER: ctl("VM_EXIT_LOAD_IA32_EFER"),
    HOST_IA32_PERF_GLOBAL_CTRL: ctl("VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL"),
  };
  return VMCS_FIELDS.filter((f) => f.name.startsWith("HOST_") && (optional[f.name] === undefined || (exitControls & optional[f.name]!) !== 0)).map((f) => f.name);
}

/**
 * `show switch` (x86): one exit's round trip step by step — the processor's stores and loads
 * through the VMCS (guest-state area, host-state area, exit information) and KVM's by-hand
 * registers — with the count of each and the cost model's cycles for each part.
 */
export function vmxSwitchView(vmcs: Vmcs): MachineView {
  const exitCtl = vmcs.read32("VM_EXIT_CONTROLS"), entryCtl = vmcs.read32("VM_ENTRY_CONTROLS");
  const stored = guestStateFields((exitCtl & ctl("VM_EXIT_SAVE_IA32_EFER")) !== 0);
  const loaded = guestStateFields((entryCtl & ctl("VM_ENTRY_LOAD_IA32_EFER")) !== 0);
  const host = hostStateFields(exitCtl);
  const cyc = (key: string) => VMX_TRANSITION.find((c) => c.key === key)?.cycles ?? 0;
  const rows: FieldValue[][] = [
    ["VM exit", "processor (VMCS guest-state area)", "stores guest state", stored.length, cyc("vm_exit"), stored.join(" ")],
    ["VM exit", "processor (VMCS exit-information fields)", "writes why", EXIT_INFO_FIELDS.length, "", EXIT_INFO_FIELDS.join(" ")],
    ["VM exit", "processor (VMCS host-state area)", "loads host state", host.length, "", host.join(" ")],
    ["after VM exit", "KVM by hand (vmx_vcpu_run)", "saves guest GPRs and CR2 to vcpu->arch.regs", KVM_BY_HAND.length, cyc("kvm_exit_path"), KVM_BY_HAND.join(" ")],
    ["before VM entry", "KVM by hand (vmx_vcpu_run)", "loads guest GPRs and CR2 from vcpu->arch.regs", KVM_BY_HAND.length, "", KVM_BY_HAND.join(" ")],
    ["VM entry", "processor (VMCS guest-state area)", "checks and loads guest state", loaded.length, cyc("vm_entry"), loaded.join(" ")],
  ];
  const hw = stored.length + EXIT_INFO_FIELDS.length + host.length + loaded.length;
  return {
    title: `VMX world switch per exit: ${hw} VMCS fields moved by the processor, ${2 * KVM_BY_HAND.length} registers moved by KVM (cycles: x86/cost.ts; handler not included)`,
    columns: ["when", "by", "what", "count", "cycles", "fields / registers"],
    rows,
  };
}
