// A -cpu model as CPUID bits (runtime/x86/kvm/cpu-model.ts): SMEP and SMAP are in the guest's
// CPUID only when QEMU 7.2's model has them (qemu64 neither, IvyBridge SMEP only, Broadwell and
// max both), and KVM refuses the CR4 bits the guest's CPUID lacks (kvm_is_valid_cr4:
// cr4_guest_rsvd_bits from guest CPUID).

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../../runtime/x86/machine.js";
import { CPU_MODEL_FLAGS, QEMU_CPU_MODELS } from "../../../../runtime/x86/kvm/cpu-model.js";
import { CPUID_FEATURES } from "../../../../runtime/x86/kvm/cpuid.js";

/** Run `body` (32-bit protected mode, paging off) to its HLT under `cpu`; no IDT, so a #GP ends in a triple fault. */
function run(body: string, cpu?: string): X86Machine {
  const m = createX86Machine({ guest: { source: `.code32\nstart:\n${body}\nhlt\n` }, settings: { stepLimit: 10_000, era: "today" }, ...(cpu ? { cpu } : {}) });
  m.run();
  return m;
}
const leaf7Ebx = (cpu?: string) => Number(run("mov $7, %eax\nxor %ecx, %ecx\ncpuid\n", cpu).readRegister("ebx"));
const SMEP = 1 << 7, SMAP = 1 << 20;
const setCr4 = (bit: number) => `mov %cr4, %eax\nor $${bit}, %eax\nmov %eax, %cr4\n`;

describe("CPUID.7.0:EBX SMEP/SMAP follow the -cpu model (QEMU 7.2 builtin_x86_defs)", () => {
  test.each([
    ["qemu64", 0],
    ["IvyBridge", SMEP],
    ["Broadwell", SMEP | SMAP],
    ["max", SMEP | SMAP],
    ["qemu64,+smep", SMEP],
    ["Broadwell,-smap", SMEP],
  ])("-cpu %s", (cpu, bits) => {
    expect(leaf7Ebx(cpu) & (SMEP | SMAP)).toBe(bits);
  });

  test("no -cpu: the machine's default (host) advertises both", () => {
    expect(leaf7Ebx() & (SMEP | SMAP)).toBe(SMEP | SMAP);
  });

  test("CR4.SMEP (bit 20) and CR4.SMAP (bit 21) #GP when the model lacks them, load when it has them", () => {
    expect(run(setCr4(1 << 20), "qemu64").halted?.message ?? "").toMatch(/triple fault/);
    expect(run(setCr4(1 << 21), "IvyBridge").halted?.message ?? "").toMatch(/triple fault/);
    const ok = run(setCr4(1 << 20), "IvyBridge");
    expect(ok.halted?.message ?? "").not.toMatch(/triple fault/);
    expect(Number(ok.readRegister("cr4")) & (1 << 20)).not.toBe(0);
  });
});

describe("the table", () => {
  test("each flag names a CPUID_FEATURES row and only QEMU 7.2 models", () => {
    for (const f of CPU_MODEL_FLAGS) {
      expect(CPUID_FEATURES.some((c) => c.name === f.feature)).toBe(true);
      if (f.models !== "every") for (const m of f.models) expect(QEMU_CPU_MODELS).toContain(m);
    }
  });
  test("one CPUID_FEATURES row per feature name (a second, stale row would shadow the first in guest_cpuid_has)", () => {
    const names = CPUID_FEATURES.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
