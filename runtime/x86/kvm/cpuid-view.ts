// `show cpuid`: the feature flags of the VM's CPUID — the era's table (cpuid.ts) as the VM's own
// part changes it (cpuid-vm.ts: the -cpu model's flags, leaf 1's logical processor count and HTT
// for its vCPUs) — each with its state and the evidence that decides it.

import type { MachineView } from "../../core/machine.js";
import type { FieldValue, KvmEra } from "../../core/trace.js";
import { hex } from "../../core/bits.js";
import { CPUID_FEATURES, featureModelled, kvmCpuid, type CpuidEntry, type CpuidFeature } from "./cpuid.js";
import { CPUID_1_EDX_HTT, vmCpuidEntry, type VmCpuid } from "./cpuid-vm.js";

/** Subleaf 0 of `leaf` as vCPU 0 of `vm` reads it (before the runtime bits: OSXSAVE, OSPKE, APIC.EN). */
function vmEntry(vm: VmCpuid, era: KvmEra, leaf: number): CpuidEntry {
  return vmCpuidEntry(vm, era, leaf, 0, 0, kvmCpuid(leaf, era, 0).entry);
}

const bitOf = (e: CpuidEntry, f: CpuidFeature) => (e[f.reg] >>> f.bit) & 1;

/**
 * The `cpuid` view of a VM of KVM `era`: one row per CPUID_FEATURES flag (leaf, register, bit,
 * name, state, evidence) — "advertised", "absent (-cpu MODEL)" when the VM's model leaves it out,
 * "absent (not offered by KVM era)", or "absent" when the model does not back it — then leaf 1's
 * HTT and logical processor count as the VM's vCPUs set them.
 */
export function cpuidView(vm: VmCpuid, era: KvmEra): MachineView {
  const entries = new Map<number, CpuidEntry>();
  const entry = (leaf: number) => entries.get(leaf) ?? entries.set(leaf, vmEntry(vm, era, leaf)).get(leaf)!;
  const rows: FieldValue[][] = CPUID_FEATURES.map((f) => {
    const e = f.evidence;
    const backed = featureModelled(f);
    const why =
      e.kind === "insn" ? `instruction ${e.bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ")}${backed ? "" : " is not decoded (#UD)"}`
      : e.kind === "msr" ? `MSR ${hex(e.code)}${backed ? "" : " is not modelled (#GP)"}`
      : e.kind === "modelled" ? e.where : e.why;
    const state =
      bitOf(entry(f.leaf), f) ? "advertised"
      : vm.cleared.includes(f) && backed && (!f.eras || f.eras.includes(era)) ? `absent (-cpu ${vm.cpu})`
      : backed ? `absent (not offered by KVM ${era})` : "absent";
    return [hex(f.leaf), f.reg, f.bit, f.name, state, why];
  });
  const leaf1 = entry(1);
  const count = (leaf1.ebx >>> 16) & 0xff;
  rows.push(["0x1", "edx", 28, "HTT", leaf1.edx & CPUID_1_EDX_HTT ? "advertised" : "absent", `${vm.vcpus} vCPU${vm.vcpus === 1 ? "" : "s"}: EBX[23:16] = ${count} (QEMU cpu_x86_cpuid leaf 1, -smp)`]);
  return { title: `CPUID feature flags (KVM ${era}, -cpu ${vm.cpu}, ${vm.vcpus} vCPU${vm.vcpus === 1 ? "" : "s"})`, columns: ["leaf", "register", "bit", "feature", "state", "evidence"], rows };
}
