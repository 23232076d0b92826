// A -cpu model as CPUID bits (runtime/x86/kvm/cpu-model.ts, qemu-cpu-models.ts): SMEP and SMAP —
// and every other flag — are in the guest's CPUID only when QEMU 7.2's model has them (qemu64
// neither, IvyBridge SMEP only, Broadwell and max both), and KVM refuses the CR4 bits the guest's
// CPUID lacks (kvm_is_valid_cr4: cr4_guest_rsvd_bits from guest CPUID).

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../../runtime/x86/machine.js";
import { CPU_MODEL_FLAGS, FEATURE_FLAGS, QEMU_CPU_MODELS } from "../../../../runtime/x86/kvm/cpu-model.js";
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

describe("the rest of the model's flags (QEMU 7.2 qemu64: no XSAVE, AVX, FSGSBASE, RDTSCP ...)", () => {
  const leaf = (leafNo: number, cpu: string) => {
    const m = run(`mov $${leafNo}, %eax\nxor %ecx, %ecx\ncpuid\n`, cpu);
    return ["eax", "ebx", "ecx", "edx"].map((r) => Number(m.readRegister(r)));
  };
  test("-cpu qemu64: CPUID.1:ECX has neither XSAVE (26) nor AVX (28), leaf 0xD is zeros, CR4.OSXSAVE and CR4.FSGSBASE #GP", () => {
    const [, , ecx] = leaf(1, "qemu64");
    expect(ecx! & ((1 << 26) | (1 << 28))).toBe(0);
    expect(leaf(0xd, "qemu64")).toEqual([0, 0, 0, 0]);
    expect(run(setCr4(1 << 18), "qemu64").halted?.message ?? "").toMatch(/triple fault/);
    expect(run(setCr4(1 << 16), "qemu64").halted?.message ?? "").toMatch(/triple fault/);
  });
  test("-cpu IvyBridge has them: XSAVE and AVX set, leaf 0xD answered, CR4.OSXSAVE loads", () => {
    const [, , ecx] = leaf(1, "IvyBridge");
    expect(ecx! & ((1 << 26) | (1 << 28))).toBe((1 << 26) | (1 << 28));
    expect(leaf(0xd, "IvyBridge")[0]).not.toBe(0);
    expect(run(setCr4(1 << 18), "IvyBridge").halted?.message ?? "").not.toMatch(/triple fault/);
  });
});

describe("the table", () => {
  test("each flag names a CPUID_FEATURES row and only QEMU 7.2 models", () => {
    for (const f of CPU_MODEL_FLAGS) {
      expect(CPUID_FEATURES.some((c) => c.name === f.feature)).toBe(true);
      if (f.models !== "every") for (const m of f.models) expect(QEMU_CPU_MODELS).toContain(m);
    }
  });
  test("every CPUID_FEATURES flag but KVM's paravirtual leaf has its QEMU name, so every -cpu model decides it", () => {
    const named = new Set(Object.keys(FEATURE_FLAGS));
    expect(CPUID_FEATURES.filter((f) => f.leaf !== 0x4000_0001 && !named.has(f.name)).map((f) => f.name)).toEqual([]);
  });
  test("one CPUID_FEATURES row per feature name (a second, stale row would shadow the first in guest_cpuid_has)", () => {
    const names = CPUID_FEATURES.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
