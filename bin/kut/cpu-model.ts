// An entry's QEMU `-cpu` for exitlab's machine: the model (QEMU's x86_64 default qemu64 when the
// entry gives none) and the flags exitlab models (runtime/x86/kvm/cpu-model.ts, the one table of
// what each model carries), so the guest's CPUID has what QEMU's KVM_SET_CPUID2 would give it.

import { modelledCpuSpec } from "../../runtime/x86/kvm/cpu-model.js";

/** QEMU's x86_64 default model when an entry gives no -cpu (hw/i386/pc.c: TARGET_DEFAULT_CPU_TYPE "qemu64"). */
export const DEFAULT_QEMU_CPU = "qemu64";

/**
 * MachineOptions.cpu for an entry's `qemu_params`: its `-cpu` argument (else qemu64) cut to the
 * model and the flags exitlab models (modelledCpuSpec: `+vmx`, `vendor=`, `host-phys-bits` and
 * the like dropped).
 */
export function cpuOf(qemuParams: string): string {
  return modelledCpuSpec(/(?:^|\s)-cpu\s+(\S+)/.exec(qemuParams)?.[1] ?? DEFAULT_QEMU_CPU);
}
