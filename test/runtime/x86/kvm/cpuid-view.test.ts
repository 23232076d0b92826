// `show cpuid` (runtime/x86/kvm/cpuid-view.ts) shows the VM's CPUID — its -cpu model's flags and its
// vCPU count applied (cpu-model.ts, cpuid-vm.ts) — not the era's bare table.

import { describe, expect, test } from "vitest";
import { createX86Machine } from "../../../../runtime/x86/machine.js";
import type { FieldValue } from "../../../../runtime/core/trace.js";

const row = (rows: FieldValue[][], name: string) => rows.find((r) => r[3] === name);

describe("show cpuid", () => {
  test("-cpu qemu64: SMEP, SMAP, TSC deadline and PKU absent because of the model; x2APIC advertised (kvm_default_props)", () => {
    const v = createX86Machine({ settings: { era: "today" }, cpu: "qemu64" }).view("cpuid");
    expect(v.title).toBe("CPUID feature flags (KVM today, -cpu qemu64, 1 vCPU)");
    for (const name of ["SMEP", "SMAP", "TSC_DEADLINE_TIMER", "PKU"]) expect(row(v.rows, name)?.[4], name).toBe("absent (-cpu qemu64)");
    expect(row(v.rows, "X2APIC")?.[4]).toBe("advertised");
  });

  test("-cpu host,-x2apic: x2APIC absent, SMEP and SMAP advertised", () => {
    const v = createX86Machine({ settings: { era: "today" }, cpu: "host,-x2apic" }).view("cpuid");
    expect(row(v.rows, "X2APIC")?.[4]).toBe("absent (-cpu host,-x2apic)");
    expect(row(v.rows, "SMEP")?.[4]).toBe("advertised");
    expect(row(v.rows, "SMAP")?.[4]).toBe("advertised");
  });

  test("a feature the era's KVM does not offer says so, whatever the model (v4.1: no SMAP, no PKU)", () => {
    const v = createX86Machine({ settings: { era: "2015" }, cpu: "max" }).view("cpuid");
    expect(row(v.rows, "SMAP")?.[4]).toBe("absent (not offered by KVM 2015)");
    expect(row(v.rows, "SMEP")?.[4]).toBe("advertised");
  });

  test("the vCPU count: HTT and CPUID.1:EBX[23:16] as -smp sets them", () => {
    const one = createX86Machine().view("cpuid");
    expect(row(one.rows, "HTT")?.slice(0, 5)).toEqual(["0x1", "edx", 28, "HTT", "absent"]);
    const three = createX86Machine({ settings: { vcpus: 3 } }).view("cpuid");
    expect(three.title).toMatch(/3 vCPUs\)$/);
    expect(row(three.rows, "HTT")).toEqual(["0x1", "edx", 28, "HTT", "advertised", "3 vCPUs: EBX[23:16] = 3 (QEMU cpu_x86_cpuid leaf 1, -smp)"]);
  });
});
